#!/usr/bin/env python3
"""Image preprocessing fixtures: what HF transformers' CLIPImageProcessor gives for the sample
images, for test/model/image.test.ts to compare src/model/image.ts against.

    python scripts/make_image_fixtures.py [--shared ../shared] [--out test/fixtures/images]

Writes into --out:
  camera.png, palette_color.png, rocket.jpg, LICENSE.md, LICENSE.scikit-image.txt
      copied unchanged from shared/data/images (chelsea.png stays there: 240 KB; its expected
      values are stored, the test reads the image from shared/ and skips when that is absent)
  target32.png, rgba.png, la.png   made here: an image already at the small config's size (no
      resize, no crop: HF's values must come out exactly), RGBA and grayscale+alpha inputs
  clip-small/preprocessor_config.json   CLIPImageProcessor(shortest_edge 32, crop 32).save_pretrained
  llava/processor_config.json           LlavaProcessor(LLaVA-1.5's 336 processor).save_pretrained
      (transformers 5 nests the image processor under "image_processor"; the tokenizer files
      save_pretrained writes beside it are removed, the tests do not need them)
  expected.safetensors
      small/NAME      F32 [3,32,32]  pixel_values of the small config
      small-pad/NAME  F32 [3,32,32]  LLaVA-1.5's expand2square (background = int(mean*255)) first
      small-bilinear/NAME, small-nearest/NAME  F32 [3,32,32]  resample 2 and 0, rocket and palette_color
      llava/rocket, llava-pad/rocket  U8 [3,336,336]  LLaVA-1.5 config, stored as the uint8 image
          HF has after resize + crop (PIL works in uint8): pixel_values are exactly
          f32(f32(u8 * rescale_factor) - mean) / std, which this script checks, at a quarter of
          the size of f32
  expected.json   the processor class and versions, mean/std, the expand2square background

The processor is CLIPImageProcessorPil (PIL bicubic), named explicitly: it is what AutoProcessor /
AutoImageProcessor give in transformers 5 when torchvision is absent (with torchvision they give
the torchvision CLIPImageProcessor, whose antialiased bicubic differs by a few uint8 levels), and
what LLaVA-1.5 was trained with (transformers 4's CLIPImageProcessor was PIL-based). The configs
are written as transformers writes them (image_processor_type CLIPImageProcessor, no Pil suffix).
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import PIL
import torch
import transformers
from PIL import Image
from safetensors.torch import save_file
from transformers import AutoTokenizer, CLIPImageProcessorPil, LlavaProcessor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COPIED = ['camera.png', 'palette_color.png', 'rocket.jpg', 'LICENSE.md', 'LICENSE.scikit-image.txt']
SAMPLES = ['camera.png', 'chelsea.png', 'palette_color.png', 'rocket.jpg']


def expand2square(pil_img, background_color):
    # LLaVA-1.5 (llava/mm_utils.py), verbatim in effect: paste centred on a square of the mean colour.
    width, height = pil_img.size
    if width == height:
        return pil_img
    if width > height:
        result = Image.new(pil_img.mode, (width, width), background_color)
        result.paste(pil_img, (0, (width - height) // 2))
        return result
    result = Image.new(pil_img.mode, (height, height), background_color)
    result.paste(pil_img, ((height - width) // 2, 0))
    return result


def pixel_values(proc, img):
    return proc(images=img, return_tensors='pt')['pixel_values'][0].to(torch.float32).contiguous()


def uint8_stage(proc, img):
    """The uint8 CHW image HF normalises (PIL backend: resize and crop stay in uint8)."""
    img = proc.convert_to_rgb(img)
    arr = np.transpose(np.array(img), (2, 0, 1))
    size = proc.size
    h, w = arr.shape[1:]
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size['shortest_edge'], int(size['shortest_edge'] * long / short)
    nh, nw = (new_long, new_short) if w <= h else (new_short, new_long)
    img = img.resize((nw, nh), resample=int(proc.resample))
    arr = np.transpose(np.array(img), (2, 0, 1))
    ch, cw = proc.crop_size['height'], proc.crop_size['width']
    top, left = (nh - ch) // 2, (nw - cw) // 2
    return np.ascontiguousarray(arr[:, top:top + ch, left:left + cw])


def normalise(proc, u8):
    x = (u8.astype(np.float64) * proc.rescale_factor).astype(np.float32)
    mean = np.array(proc.image_mean, dtype=np.float32)[:, None, None]
    std = np.array(proc.image_std, dtype=np.float32)[:, None, None]
    return (x - mean) / std


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--shared', default=os.path.join(os.path.dirname(ROOT), 'shared'))
    ap.add_argument('--out', default=os.path.join(ROOT, 'test', 'fixtures', 'images'))
    args = ap.parse_args()
    src = os.path.join(args.shared, 'data', 'images')
    out = args.out
    os.makedirs(out, exist_ok=True)
    for name in COPIED:
        shutil.copyfile(os.path.join(src, name), os.path.join(out, name))

    # Inputs made here, deterministic: an image at the target size, RGBA and LA with varying alpha.
    rocket = Image.open(os.path.join(src, 'rocket.jpg')).convert('RGB')
    rocket.resize((32, 32), resample=Image.BICUBIC).save(os.path.join(out, 'target32.png'))
    yy, xx = np.mgrid[0:24, 0:40]
    rgba = np.stack([(xx * 6) % 256, (yy * 10) % 256, ((xx + yy) * 5) % 256, (xx * yy) % 256], -1).astype(np.uint8)
    Image.fromarray(rgba, 'RGBA').save(os.path.join(out, 'rgba.png'))
    Image.fromarray(rgba[:, :, [0, 3]], 'LA').save(os.path.join(out, 'la.png'))

    small_dir = os.path.join(out, 'clip-small')
    CLIPImageProcessorPil(size={'shortest_edge': 32}, crop_size={'height': 32, 'width': 32}).save_pretrained(small_dir)
    small = CLIPImageProcessorPil.from_pretrained(small_dir)

    llava_dir = os.path.join(out, 'llava')
    tok = AutoTokenizer.from_pretrained(os.path.join(ROOT, 'test', 'fixtures', 'llava-vision'))
    ip = CLIPImageProcessorPil(size={'shortest_edge': 336}, crop_size={'height': 336, 'width': 336})
    LlavaProcessor(image_processor=ip, tokenizer=tok, patch_size=14,
                   vision_feature_select_strategy='default').save_pretrained(llava_dir)
    llava = CLIPImageProcessorPil.from_pretrained(llava_dir)  # reads processor_config.json's image_processor
    for f in os.listdir(llava_dir):
        if f != 'processor_config.json':
            os.remove(os.path.join(llava_dir, f))

    bg = tuple(int(x * 255) for x in small.image_mean)
    tensors = {}
    for name in SAMPLES + ['target32.png', 'rgba.png', 'la.png']:
        path = os.path.join(out if os.path.exists(os.path.join(out, name)) else src, name)
        img = Image.open(path)
        key = os.path.splitext(name)[0]
        tensors[f'small/{key}'] = pixel_values(small, img)
        if name in SAMPLES:
            tensors[f'small-pad/{key}'] = pixel_values(small, expand2square(img.convert('RGB'), bg))
    # The other two filters implemented, downscaling (rocket) and upscaling (palette_color).
    for resample, label in [(2, 'bilinear'), (0, 'nearest')]:
        proc = CLIPImageProcessorPil(size={'shortest_edge': 32}, crop_size={'height': 32, 'width': 32}, resample=resample)
        for name in ['rocket.jpg', 'palette_color.png']:
            tensors[f'small-{label}/{os.path.splitext(name)[0]}'] = pixel_values(proc, Image.open(os.path.join(out, name)))

    img = Image.open(os.path.join(src, 'rocket.jpg'))
    for key, im in [('llava/rocket', img), ('llava-pad/rocket', expand2square(img.convert('RGB'), bg))]:
        u8 = uint8_stage(llava, im)
        ref = pixel_values(llava, im).numpy()
        if not np.array_equal(normalise(llava, u8), ref):
            sys.exit(f'{key}: the uint8 stage does not reproduce HF pixel_values exactly')
        tensors[key] = torch.from_numpy(u8)
    save_file(tensors, os.path.join(out, 'expected.safetensors'))

    meta = {
        'transformers': transformers.__version__,
        'torch': torch.__version__,
        'pillow': PIL.__version__,
        'processor': type(small).__name__,
        'llava_processor': type(llava).__name__,
        'image_mean': list(small.image_mean),
        'image_std': list(small.image_std),
        'rescale_factor': small.rescale_factor,
        'expand2square_background': list(bg),
        'small': {'shortest_edge': 32, 'crop': 32},
        'llava': {'shortest_edge': 336, 'crop': 336},
    }
    with open(os.path.join(out, 'expected.json'), 'w') as f:
        json.dump(meta, f, indent=2)
        f.write('\n')
    print(f'{out}: {len(tensors)} tensors, processors {meta["processor"]} / {meta["llava_processor"]}')


if __name__ == '__main__':
    main()
