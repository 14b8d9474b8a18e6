"""The video data layer: decoding backends, samplers, transforms, annotation formats, datasets."""
