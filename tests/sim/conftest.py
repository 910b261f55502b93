from tests.support.sim import sim

__all__ = ["sim"]
