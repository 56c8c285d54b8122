print("cutover-bench")
