from .deconv_neck import DeconvNeck
from .dla_neck import DLANeck

__all__ = ['DeconvNeck', 'DLANeck']
