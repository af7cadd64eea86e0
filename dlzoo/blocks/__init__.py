"""Pure tensor functions shared by the model families: `x = block(x, ..., name=prefix)`."""

from dlzoo.blocks.conv import conv_bn_act
from dlzoo.blocks.heads import classifier_head, dense_stack
from dlzoo.blocks.recurrent import recurrent_stack
from dlzoo.blocks.transformer import transformer_encoder_block

__all__ = ["classifier_head", "conv_bn_act", "dense_stack", "recurrent_stack", "transformer_encoder_block"]
