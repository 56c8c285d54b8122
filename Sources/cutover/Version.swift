/// The version `cutover --version` prints: the release this source tree is.
enum CutoverVersion {
    /// Semantic version of this release.
    static let string = "0.2.0"
}
