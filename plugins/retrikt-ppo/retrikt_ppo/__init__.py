"""retrikt-ppo: Proximal Policy Optimization on a generator's soft prompts.

trl (1.16) no longer ships a PPO trainer, and its online RL trainers fine-tune
whole models; PPO restricted to soft-prompt parameters with a custom,
composable reward is therefore implemented here, compactly.
"""

from retrikt_core.api import hookimpl
from retrikt_ppo.optimizer import PPOOptimizer


@hookimpl
def register_optimizers(register):
    register(PPOOptimizer)
