"""Models users pick by name: `MODELS` registry and `build_model(name, task, **options)`.

Each model is sized from the task (channels and image size, or vocabulary and padding id; the
number of classes). Image: small_cnn, resnet18. Text: textcnn, bigru, fasttext, and
hf_encoder (a pretrained Hugging Face encoder from a local folder; `polybench[transformers]`).
"""

from polybench.models import _image, _pretrained, _text  # noqa: F401  (registers the models)
from polybench.models._image import SmallCNN, resnet18_32
from polybench.models._pretrained import PretrainedEncoderClassifier
from polybench.models._registry import (
    MODELS,
    ModelSpec,
    build_model,
    describe_models,
    get_model_spec,
    register,
    validate_model,
)
from polybench.models._text import BiGRU, FastText, TextCNN

__all__ = [
    "MODELS",
    "BiGRU",
    "FastText",
    "ModelSpec",
    "PretrainedEncoderClassifier",
    "SmallCNN",
    "TextCNN",
    "build_model",
    "describe_models",
    "get_model_spec",
    "register",
    "resnet18_32",
    "validate_model",
]
