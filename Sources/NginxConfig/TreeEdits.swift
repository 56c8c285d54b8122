/// Trivia-aware edits of a directive list: each keeps the surrounding layout and touches only the lines it must.
public struct DirectiveList {
    public var children: [Directive]
    /// The trivia after the last child (a block's text before `}`, or a file's text after its last directive).
    public var trailing: String

    public init(children: [Directive], trailing: String) {
        self.children = children
        self.trailing = trailing
    }

    /// The trivia that follows child `i`: the next child's prefix, or the trailing trivia.
    private func following(_ i: Int) -> String {
        i + 1 < children.count ? children[i + 1].name.prefix : trailing
    }

    private mutating func setFollowing(_ i: Int, _ text: String) {
        if i + 1 < children.count { children[i + 1].name.prefix = text } else { trailing = text }
    }

    /// The line break style used before child `i` ("\r\n" or "\n"), or nil when it shares its line with a neighbour.
    public func lineBreak(near i: Int) -> String? {
        Trivia.splitLastBreak(i < children.count ? children[i].name.prefix : trailing)?.lineBreak
    }

    /// The indentation of child `i` (the prefix text after its last line break), or nil on a shared line.
    public func indentation(of i: Int) -> String? {
        Trivia.splitLastBreak(children[i].name.prefix)?.after
    }

    /// Inserts `directive` (its prefix is replaced) on a new line after child `i`, with the same indentation;
    /// a comment on child `i`'s line stays there.
    public mutating func insert(_ directive: Directive, after i: Int) {
        var d = directive
        guard let indent = indentation(of: i), let nl = lineBreak(near: i) else {
            d.name.prefix = " "
            children.insert(d, at: i + 1)
            return
        }
        if let split = Trivia.splitFirstBreak(following(i)) {
            d.name.prefix = split.before + nl + indent
            setFollowing(i, split.lineBreak + split.after)
        } else {
            d.name.prefix = nl + indent
        }
        children.insert(d, at: i + 1)
    }

    /// Inserts `directive` before child `i`, taking over child `i`'s leading lines; child `i` moves to a new line.
    public mutating func insert(_ directive: Directive, before i: Int) {
        var d = directive
        d.name.prefix = children[i].name.prefix
        if let indent = indentation(of: i), let nl = lineBreak(near: i) {
            children[i].name.prefix = nl + indent
        } else {
            children[i].name.prefix = " "
        }
        children.insert(d, at: i)
    }

    /// Appends `directive` as the last child, on its own line indented by `indent` when the list is empty.
    public mutating func append(_ directive: Directive, indent: String, lineBreak nl: String = "\n") {
        if !children.isEmpty {
            insert(directive, after: children.count - 1)
            return
        }
        var d = directive
        // An empty block `{\n}`: put the new line before the closing brace's line.
        if let split = Trivia.splitLastBreak(trailing) {
            d.name.prefix = split.before + split.lineBreak + indent
            trailing = split.lineBreak + split.after
        } else {
            d.name.prefix = nl + indent
            trailing = nl + trailing
        }
        children.append(d)
    }

    /// Removes child `i` with its whole line (indentation and a comment on the same line), leaving every other line as it was.
    public mutating func remove(at i: Int) {
        let prefix = children[i].name.prefix
        let follow = following(i)
        children.remove(at: i)
        let newFollowing: String
        if let own = Trivia.splitLastBreak(prefix) {
            if let next = Trivia.splitFirstBreak(follow) {
                newFollowing = own.before + next.lineBreak + next.after
            } else {
                newFollowing = own.before + follow
            }
        } else {
            newFollowing = follow.isEmpty ? prefix : follow
        }
        if i < children.count { children[i].name.prefix = newFollowing } else { trailing = newFollowing }
    }
}

extension Block {
    /// Edits the block's children with line-aware operations.
    public mutating func edit(_ change: (inout DirectiveList) throws -> Void) rethrows {
        var list = DirectiveList(children: children, trailing: trailing)
        try change(&list)
        children = list.children
        trailing = list.trailing
    }
}

extension ConfigSet {
    /// Edits the sibling list holding the directive at `path` (the file's top level or the enclosing block).
    public mutating func editList(containing path: DirectivePath, _ change: (inout DirectiveList, Int) throws -> Void) rethrows {
        guard let index = path.indices.last else { return }
        if path.indices.count == 1 {
            guard var file = files[path.file] else { return }
            var list = DirectiveList(children: file.children, trailing: file.trailing)
            try change(&list, index)
            file.children = list.children
            file.trailing = list.trailing
            replaceFile(file)
        } else {
            let parent = DirectivePath(file: path.file, indices: Array(path.indices.dropLast()))
            try modifyBlock(at: parent) { block in
                try block.edit { list in try change(&list, index) }
            }
        }
    }
}

/// Parses one directive from text such as `25% "new_service";`, for inserting into a tree.
public func parseDirective(_ text: String) throws(ConfigSyntaxError) -> Directive {
    let file = try ConfigParser.parse(text, path: "(new directive)")
    guard let first = file.children.first else {
        throw ConfigSyntaxError(file: "(new directive)", line: 1, column: 1, message: "no directive in \"\(text)\"")
    }
    return first
}
