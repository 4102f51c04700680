"""Reusable building blocks, registered in MODELS: the DCNv2 layer."""
from .dcn import DCNv2, available_dcn_backends, modulated_deform_conv2d

__all__ = ['DCNv2', 'available_dcn_backends', 'modulated_deform_conv2d']
