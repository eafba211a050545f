"""A ``sleep`` for retry policies that records the waits instead of waiting."""


class RecordingSleeper:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
