from .dla import DLA
from .hourglass import HourglassNet
from .resnet import ResNet

__all__ = ['DLA', 'HourglassNet', 'ResNet']
