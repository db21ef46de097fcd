"""Video and motion capture to 3D skeleton gaits on the paper's ELMD-21 body."""
import os

# Quiet native logs that would otherwise precede our one-line errors on stderr. They must be
# set before cv2 or mediapipe load; a user's own setting wins.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")   # ffmpeg inside OpenCV: quiet
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
