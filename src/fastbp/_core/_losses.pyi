OUTPUTS: dict[str, int]
