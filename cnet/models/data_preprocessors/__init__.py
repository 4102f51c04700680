from .det_data_preprocessor import DetDataPreprocessor
from .track_data_preprocessor import TrackDataPreprocessor

__all__ = ['DetDataPreprocessor', 'TrackDataPreprocessor']
