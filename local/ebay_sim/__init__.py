"""An eBay stand-in (OAuth, Browse, Offer, Trading watch list) for running the sniper offline.

It shares no code with the product, so it checks the product's eBay client independently.
"""

from local.ebay_sim.config import SimConfig
from local.ebay_sim.server import create_app, start_simulator
from local.ebay_sim.simulator import Simulator

__all__ = ["SimConfig", "Simulator", "create_app", "start_simulator"]
