print("cutover")
