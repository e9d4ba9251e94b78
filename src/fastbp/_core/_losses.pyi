OUTPUTS: dict[str, int]
LOSSES: dict[str, int]
