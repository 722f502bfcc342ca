// Image preprocessing for the vision tower: HF's CLIPImageProcessor (the PIL backend, which
// AutoProcessor gives in transformers 5 without torchvision and which LLaVA-1.5 was trained with)
// on images decoded by sharp. sharp decodes, applies EXIF orientation and converts to 8-bit RGB;
// resizing is PIL's own separable convolution in fixed point, written out here because sharp's
// closest kernel (cubic) differs from PIL's bicubic by up to 0.42 in normalised pixel values on a
// downscaled photo and 1.0 on an upscaled one, while this reproduces PIL's uint8 output; crop,
// rescale and normalise follow transformers' float32 arithmetic, so pixel_values match HF exactly.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { PlastError } from '../errors';

type Json = Record<string, unknown>;

export type Resample = 'nearest' | 'bilinear' | 'bicubic';

export interface ImageProcessorConfig {
  /** The file the config came from; absent for the defaults. */
  file?: string;
  doResize: boolean;
  /** shortest_edge: the short side becomes this (the long side keeps the aspect); or an exact size. */
  size: { shortestEdge: number } | { height: number; width: number };
  resample: Resample;
  doCenterCrop: boolean;
  cropSize: { height: number; width: number };
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
  doConvertRgb: boolean;
}

export const OPENAI_CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const OPENAI_CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** CLIPImageProcessor's defaults, at the vision tower's image size (224 in the class itself). */
export function clipImageDefaults(imageSize = 224): ImageProcessorConfig {
  return {
    doResize: true,
    size: { shortestEdge: imageSize },
    resample: 'bicubic',
    doCenterCrop: true,
    cropSize: { height: imageSize, width: imageSize },
    doRescale: true,
    rescaleFactor: 1 / 255,
    doNormalize: true,
    imageMean: [...OPENAI_CLIP_MEAN],
    imageStd: [...OPENAI_CLIP_STD],
    doConvertRgb: true,
  };
}

/**
 * The image processor of a checkpoint directory, found where transformers 5 looks: the
 * "image_processor" object of processor_config.json first, then preprocessor_config.json. With
 * neither, CLIPImageProcessor's defaults at `fallbackImageSize` (the tower's image_size); without
 * that, ERR_IO naming both files.
 */
export function readImageProcessorConfig(dir: string, fallbackImageSize?: number): ImageProcessorConfig {
  const nested = join(dir, 'processor_config.json');
  if (existsSync(nested)) {
    const json = readJson(nested);
    if (json['image_processor'] !== undefined) {
      const ip = json['image_processor'];
      if (typeof ip !== 'object' || ip === null || Array.isArray(ip)) {
        throw new PlastError('ERR_FORMAT', `${nested}: expected an object for image_processor but received ${describe(ip)}`, {
          file: nested,
          field: 'image_processor',
        });
      }
      return parseImageProcessorConfig(ip as Json, nested);
    }
  }
  const flat = join(dir, 'preprocessor_config.json');
  if (existsSync(flat)) return parseImageProcessorConfig(readJson(flat), flat);
  if (fallbackImageSize !== undefined) return clipImageDefaults(positiveInt(fallbackImageSize, 'image size', undefined));
  throw new PlastError('ERR_IO', `${dir}: no image processor config (neither processor_config.json with "image_processor" nor preprocessor_config.json)`, {
    file: flat,
  });
}

function readJson(file: string): Json {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ? 'ERR_IO' : 'ERR_FORMAT';
    throw new PlastError(code, `${file}: cannot read the image processor config (${(err as Error).message})`, { file, cause: err });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new PlastError('ERR_FORMAT', `${file}: expected a JSON object but received ${describe(json)}`, { file });
  }
  return json as Json;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function bad(file: string | undefined, field: string, expected: string, v: unknown): PlastError {
  return new PlastError('ERR_FORMAT', `${file ?? 'image processor config'}: expected ${expected} for ${field} but received ${describe(v)}`, {
    ...(file !== undefined ? { file } : {}),
    field,
  });
}

function positiveInt(v: unknown, field: string, file: string | undefined): number {
  // 65535 bounds what any image format here stores; a larger target is a typo, not a size.
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > 65535) throw bad(file, field, 'an integer in 1..65535', v);
  return v;
}

function bool(c: Json, key: string, file: string, dflt: boolean): boolean {
  const v = c[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw bad(file, key, 'true or false', v);
  return v;
}

function triple(c: Json, key: string, file: string, dflt: [number, number, number], positive: boolean): [number, number, number] {
  const v = c[key];
  if (v === undefined || v === null) return [...dflt];
  const ok = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0);
  // HF takes one number for every channel, or one per channel.
  if (ok(v)) return [v as number, v as number, v as number];
  if (Array.isArray(v) && v.length === 3 && v.every(ok)) return v as [number, number, number];
  throw bad(file, key, `${positive ? 'a positive number' : 'a finite number'} or a list of 3`, v);
}

/** HF's size / crop_size dicts (or a bare integer, as older configs write them). */
function sizeDict(c: Json, key: string, file: string, dflt: ImageProcessorConfig['size'], square: boolean): ImageProcessorConfig['size'] {
  const v = c[key];
  if (v === undefined || v === null) return dflt;
  // get_size_dict: an int is the shortest edge for size (default_to_square=False), a square for crop_size.
  if (typeof v === 'number') {
    const n = positiveInt(v, key, file);
    return square ? { height: n, width: n } : { shortestEdge: n };
  }
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(file, key, '{"shortest_edge": N} or {"height": H, "width": W}', v);
  const d = v as Json;
  const keys = Object.keys(d).filter((k) => d[k] !== null && d[k] !== undefined);
  if (keys.length === 1 && keys[0] === 'shortest_edge' && !square) return { shortestEdge: positiveInt(d['shortest_edge'], `${key}.shortest_edge`, file) };
  if (keys.length === 2 && 'height' in d && 'width' in d) {
    return { height: positiveInt(d['height'], `${key}.height`, file), width: positiveInt(d['width'], `${key}.width`, file) };
  }
  if (keys.some((k) => k === 'longest_edge' || k === 'max_height' || k === 'max_width')) {
    throw new PlastError('ERR_UNSUPPORTED', `${file}: ${key} ${describe(v)} is not supported (supported: shortest_edge, or height and width)`, {
      file,
      field: key,
    });
  }
  throw bad(file, key, square ? '{"height": H, "width": W}' : '{"shortest_edge": N} or {"height": H, "width": W}', v);
}

/** PIL's resampling filters by number (PILImageResampling); only these three are implemented. */
const RESAMPLE: Record<number, Resample> = { 0: 'nearest', 2: 'bilinear', 3: 'bicubic' };
const PIL_NAMES: Record<number, string> = { 1: 'lanczos', 4: 'box', 5: 'hamming' };

export function parseImageProcessorConfig(c: Json, file: string): ImageProcessorConfig {
  const d = clipImageDefaults(224);
  let resample: Resample = d.resample;
  const r = c['resample'];
  if (r !== undefined && r !== null) {
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 0 || r > 5) throw bad(file, 'resample', 'a PIL resampling filter 0..5', r);
    const name = RESAMPLE[r];
    if (name === undefined) {
      throw new PlastError('ERR_UNSUPPORTED', `${file}: resample ${r} (${PIL_NAMES[r]}) is not supported (supported: 0 nearest, 2 bilinear, 3 bicubic)`, {
        file,
        field: 'resample',
      });
    }
    resample = name;
  }
  const rf = c['rescale_factor'];
  if (rf !== undefined && rf !== null && (typeof rf !== 'number' || !Number.isFinite(rf) || rf <= 0)) throw bad(file, 'rescale_factor', 'a positive number', rf);
  return {
    file,
    doResize: bool(c, 'do_resize', file, d.doResize),
    size: sizeDict(c, 'size', file, d.size, false),
    resample,
    doCenterCrop: bool(c, 'do_center_crop', file, d.doCenterCrop),
    cropSize: sizeDict(c, 'crop_size', file, d.cropSize, true) as { height: number; width: number },
    doRescale: bool(c, 'do_rescale', file, d.doRescale),
    rescaleFactor: typeof rf === 'number' ? rf : d.rescaleFactor,
    doNormalize: bool(c, 'do_normalize', file, d.doNormalize),
    imageMean: triple(c, 'image_mean', file, d.imageMean, false),
    imageStd: triple(c, 'image_std', file, d.imageStd, true),
    doConvertRgb: bool(c, 'do_convert_rgb', file, d.doConvertRgb),
  };
}

export interface LoadImageOptions {
  /** crop: the processor as configured; pad: LLaVA-1.5's expand2square (mean colour) first. */
  aspect?: 'crop' | 'pad';
  /** Refuse images with more pixels than this before decoding them (decompression bombs). */
  limitInputPixels?: number;
  /** How a string source is read; by default a data: URI, an existing file, or long base64 text. */
  encoding?: 'path' | 'base64';
  /** The data file and row the image comes from, for error messages. */
  file?: string;
  line?: number;
  /** What the image is, for error messages (e.g. 'image of question 12'). */
  what?: string;
}

export interface ImageTensor {
  /** CHW float32, as HF's pixel_values for one image. */
  pixels: Float32Array;
  channels: number;
  height: number;
  width: number;
  /** The image's size after EXIF orientation, before any processing. */
  source: { width: number; height: number };
}

export const DEFAULT_LIMIT_INPUT_PIXELS = 100_000_000;

/** Decodes an image (path, bytes, base64 or a data: URI) and preprocesses it as HF would. */
export async function loadImage(source: string | Uint8Array, cfg: ImageProcessorConfig, opts: LoadImageOptions = {}): Promise<ImageTensor> {
  const aspect = opts.aspect ?? 'crop';
  if (aspect !== 'crop' && aspect !== 'pad') {
    throw new PlastError('ERR_INVALID', `Expected 'crop' or 'pad' for aspect but received ${JSON.stringify(aspect)}`, { field: 'aspect' });
  }
  const rgb = await decodeRgb(source, opts);
  const where = describeSource(source, opts);
  let img = rgb;
  // LLaVA-1.5: expand2square(image, tuple(int(x * 255) for x in image_processor.image_mean)).
  if (aspect === 'pad') img = expandToSquare(img, cfg.imageMean.map((m) => Math.trunc(m * 255)) as [number, number, number]);
  if (cfg.doResize) {
    const [h, w] = resizeTarget(img.height, img.width, cfg.size);
    const limit = opts.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS;
    // A 1 x 100000 strip asks for an enormous long edge after the short one is scaled up.
    if (h * w > limit) {
      throw sourceError('ERR_DATA', `${where}: resizing its ${img.width}x${img.height} pixels to ${w}x${h} exceeds limitInputPixels ${limit} (an absurd aspect ratio)`, opts);
    }
    img = resizePil(img, w, h, cfg.resample);
  }
  if (cfg.doCenterCrop) img = centerCrop(img, cfg.cropSize.height, cfg.cropSize.width);
  return {
    pixels: toPixelValues(img, cfg),
    channels: 3,
    height: img.height,
    width: img.width,
    source: { width: rgb.width, height: rgb.height },
  };
}

/** An 8-bit RGB image, interleaved (HWC), as PIL holds it. */
export interface Rgb8 {
  data: Uint8Array;
  width: number;
  height: number;
}

function describeSource(source: string | Uint8Array, opts: LoadImageOptions): string {
  const origin = opts.file !== undefined ? `${opts.file}${opts.line !== undefined ? `:${opts.line}` : ''}` : undefined;
  const what = opts.what ?? (typeof source === 'string' && !looksInline(source, opts) ? source : 'image');
  return origin ? `${origin}: ${what}` : what;
}

function sourceError(code: 'ERR_IO' | 'ERR_FORMAT' | 'ERR_DATA' | 'ERR_UNSUPPORTED', message: string, opts: LoadImageOptions, file?: string, cause?: unknown): PlastError {
  const f = opts.file ?? file;
  return new PlastError(code, message, {
    ...(f !== undefined ? { file: f } : {}),
    ...(opts.line !== undefined ? { line: opts.line } : {}),
    ...(cause !== undefined ? { cause } : {}),
  });
}

const FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff']);

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function looksInline(s: string, opts: LoadImageOptions): boolean {
  if (opts.encoding !== undefined) return opts.encoding === 'base64';
  // VLMEvalKit TSVs carry images as base64; a path is short and names an existing file.
  return s.startsWith('data:') || (s.length >= 128 && !existsSync(s));
}

function bytesOf(source: string | Uint8Array, opts: LoadImageOptions): { bytes: Uint8Array; path?: string } {
  const where = describeSource(source, opts);
  if (typeof source !== 'string') return { bytes: source };
  if (!looksInline(source, opts)) {
    try {
      return { bytes: readFileSync(source), path: source };
    } catch (err) {
      throw sourceError('ERR_IO', `${where}: cannot read the image (${(err as Error).message})`, opts, source, err);
    }
  }
  let text = source;
  if (text.startsWith('data:')) {
    const m = /^data:image\/[A-Za-z0-9.+-]+;base64,/.exec(text);
    if (!m) throw sourceError('ERR_FORMAT', `${where}: expected a data:image/...;base64, URI but received ${describe(text.slice(0, 40))}`, opts);
    text = text.slice(m[0].length);
  }
  text = text.replace(/\s+/g, '');
  // Buffer.from(.., 'base64') skips bad characters silently; a damaged cell must not become a
  // different image, so the text is checked first.
  if (text.length === 0 || text.length % 4 === 1 || !BASE64.test(text)) {
    const at = text.search(/[^A-Za-z0-9+/=]/);
    const why = text.length === 0 ? 'it is empty' : at >= 0 ? `character ${JSON.stringify(text[at])} at ${at}` : `length ${text.length}`;
    throw sourceError('ERR_FORMAT', `${where}: expected base64 image data or an existing image file but received ${text.length} characters that are neither (${why})`, opts);
  }
  return { bytes: Buffer.from(text, 'base64') };
}

/** Decode, orient (EXIF), and convert to 8-bit RGB as PIL's convert('RGB') does. */
export async function decodeRgb(source: string | Uint8Array, opts: LoadImageOptions = {}): Promise<Rgb8> {
  const where = describeSource(source, opts);
  const { bytes, path } = bytesOf(source, opts);
  const limit = opts.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS;
  if (!Number.isInteger(limit) || limit <= 0) {
    throw new PlastError('ERR_INVALID', `Expected a positive integer for limitInputPixels but received ${JSON.stringify(limit)}`, { field: 'limitInputPixels' });
  }
  let format: string | undefined;
  try {
    format = (await sharp(bytes).metadata()).format;
  } catch {
    // Unreadable headers are reported by the decode below, with libvips' reason.
  }
  // What PIL opens for LLaVA's data; libvips would also render SVG/PDF or decode HEIF, which no
  // benchmark image is and which widen what a data file can make this process do.
  if (format !== undefined && !FORMATS.has(format)) {
    throw sourceError('ERR_UNSUPPORTED', `${where}: ${format} images are not supported (supported: ${[...FORMATS].join(', ')})`, opts, path);
  }
  try {
    // failOn 'truncated': a cut-off JPEG is refused (PIL refuses it too) while harmless warnings
    // pass. ignoreIcc: PIL ignores embedded profiles, and LLaVA saw the raw values.
    const { data, info } = await sharp(bytes, { failOn: 'truncated', limitInputPixels: limit, ignoreIcc: true, autoOrient: true })
      .toColourspace('srgb') // grayscale -> 3 equal channels; CMYK -> sRGB
      .removeAlpha() // PIL's RGBA -> RGB drops alpha without compositing
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width <= 0 || info.height <= 0) {
      throw new PlastError('ERR_FORMAT', `${where}: decoded to ${info.width}x${info.height} with ${info.channels} channels; expected RGB`);
    }
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (err) {
    if (err instanceof PlastError) throw sourceError(err.code as 'ERR_FORMAT', err.message, opts, path, err);
    const msg = String((err as Error).message ?? err).trim().split('\n')[0];
    if (/pixel limit/i.test(msg)) {
      throw sourceError('ERR_DATA', `${where}: the image has more pixels than limitInputPixels ${limit} allows (a decompression bomb?): ${msg}`, opts, path, err);
    }
    throw sourceError('ERR_FORMAT', `${where}: not a readable image (${msg})`, opts, path, err);
  }
}

/** LLaVA-1.5's expand2square: the image pasted on a square of `bg`, centred on the long axis. */
export function expandToSquare(img: Rgb8, bg: [number, number, number]): Rgb8 {
  const { width: w, height: h } = img;
  if (w === h) return img;
  const n = Math.max(w, h);
  const out = new Uint8Array(n * n * 3);
  for (let i = 0; i < n * n; i++) out.set(bg, i * 3);
  // PIL's paste offsets: (0, (w - h) // 2) or ((h - w) // 2, 0).
  const top = w > h ? Math.floor((w - h) / 2) : 0;
  const left = w > h ? 0 : Math.floor((h - w) / 2);
  for (let y = 0; y < h; y++) out.set(img.data.subarray(y * w * 3, (y + 1) * w * 3), ((top + y) * n + left) * 3);
  return { data: out, width: n, height: n };
}

/** HF's output size: get_resize_output_image_size(default_to_square=False), or the exact size. */
export function resizeTarget(height: number, width: number, size: ImageProcessorConfig['size']): [number, number] {
  if (!('shortestEdge' in size)) return [size.height, size.width];
  const s = size.shortestEdge;
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((s * long) / short); // int(requested_new_short * long / short)
  return width <= height ? [newLong, s] : [s, newLong];
}

// PIL's filters (Resample.c): support and kernel.
const FILTERS: Record<Exclude<Resample, 'nearest'>, { support: number; f: (x: number) => number }> = {
  bilinear: { support: 1, f: (x) => (x < 0 ? -x : x) < 1 ? 1 - (x < 0 ? -x : x) : 0 },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      if (x < 0) x = -x;
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
};

const PRECISION_BITS = 32 - 8 - 2;

/** precompute_coeffs + normalize_coeffs_8bpc: per output pixel, the first input and int32 weights. */
function coeffs(inSize: number, outSize: number, filter: { support: number; f: (x: number) => number }) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const kk = new Int32Array(outSize * ksize);
  const bounds = new Int32Array(outSize * 2);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = filter.f((x + xmin - center + 0.5) * ss);
      ww += k[x]!;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x]! / ww : k[x]!;
      kk[xx * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, kk, bounds };
}

function clip8(ss: number): number {
  const v = Math.floor(ss / (1 << PRECISION_BITS));
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** PIL's Image.resize((w, h), resample) of an RGB image: bit for bit, horizontal pass first. */
export function resizePil(img: Rgb8, width: number, height: number, resample: Resample): Rgb8 {
  const { data, width: inW, height: inH } = img;
  if (width === inW && height === inH) return img; // PIL returns a copy
  if (resample === 'nearest') {
    // PIL's ImagingScaleAffine: source coordinates accumulated from half a step, truncated.
    const out = new Uint8Array(width * height * 3);
    const sx = inW / width;
    const sy = inH / height;
    const xin = new Int32Array(width);
    for (let x = 0, xo = sx * 0.5; x < width; x++, xo += sx) xin[x] = Math.min(Math.trunc(xo), inW - 1);
    for (let y = 0, yo = sy * 0.5; y < height; y++, yo += sy) {
      const yi = Math.min(Math.trunc(yo), inH - 1);
      for (let x = 0; x < width; x++) {
        const s = (yi * inW + xin[x]!) * 3;
        out.set(data.subarray(s, s + 3), (y * width + x) * 3);
      }
    }
    return { data: out, width, height };
  }
  const filter = FILTERS[resample];
  const half = 1 << (PRECISION_BITS - 1);
  const v = coeffs(inH, height, filter);
  // Only the source rows the vertical pass reads are resampled horizontally.
  const yFirst = v.bounds[0]!;
  const yLast = v.bounds[(height - 1) * 2]! + v.bounds[(height - 1) * 2 + 1]!;
  let src = data;
  let srcW = inW;
  let rows = inH;
  let rowOffset = 0;
  if (width !== inW) {
    const h = coeffs(inW, width, filter);
    rows = yLast - yFirst;
    const tmp = new Uint8Array(width * rows * 3);
    for (let y = 0; y < rows; y++) {
      const line = (y + yFirst) * inW * 3;
      for (let xx = 0; xx < width; xx++) {
        const xmin = h.bounds[xx * 2]!;
        const xmax = h.bounds[xx * 2 + 1]!;
        const kb = xx * h.ksize;
        let s0 = half;
        let s1 = half;
        let s2 = half;
        for (let x = 0; x < xmax; x++) {
          const w = h.kk[kb + x]!;
          const p = line + (x + xmin) * 3;
          s0 += data[p]! * w;
          s1 += data[p + 1]! * w;
          s2 += data[p + 2]! * w;
        }
        const o = (y * width + xx) * 3;
        tmp[o] = clip8(s0);
        tmp[o + 1] = clip8(s1);
        tmp[o + 2] = clip8(s2);
      }
    }
    src = tmp;
    srcW = width;
    rowOffset = yFirst;
  }
  if (height === inH) return { data: src, width: srcW, height: rows };
  const out = new Uint8Array(srcW * height * 3);
  for (let yy = 0; yy < height; yy++) {
    const ymin = v.bounds[yy * 2]! - rowOffset;
    const ymax = v.bounds[yy * 2 + 1]!;
    const kb = yy * v.ksize;
    for (let xx = 0; xx < srcW; xx++) {
      let s0 = half;
      let s1 = half;
      let s2 = half;
      for (let y = 0; y < ymax; y++) {
        const w = v.kk[kb + y]!;
        const p = ((y + ymin) * srcW + xx) * 3;
        s0 += src[p]! * w;
        s1 += src[p + 1]! * w;
        s2 += src[p + 2]! * w;
      }
      const o = (yy * srcW + xx) * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return { data: out, width: srcW, height };
}

/** transformers' center_crop: top = (h - ch) // 2; a smaller image is padded with zeros first. */
export function centerCrop(img: Rgb8, ch: number, cw: number): Rgb8 {
  const { width: w, height: h } = img;
  if (w === cw && h === ch) return img;
  const pyd = Math.ceil(Math.max(ch - h, 0) / 2);
  const pxd = Math.ceil(Math.max(cw - w, 0) / 2);
  // Coordinates in the (zero-padded) frame: the crop's top-left and the image's offset in it.
  const top = Math.floor((h - ch) / 2) + pyd;
  const left = Math.floor((w - cw) / 2) + pxd;
  const out = new Uint8Array(ch * cw * 3);
  for (let y = 0; y < ch; y++) {
    const sy = y + top - pyd;
    if (sy < 0 || sy >= h) continue;
    for (let x = 0; x < cw; x++) {
      const sx = x + left - pxd;
      if (sx < 0 || sx >= w) continue;
      const s = (sy * w + sx) * 3;
      out.set(img.data.subarray(s, s + 3), (y * cw + x) * 3);
    }
  }
  return { data: out, width: cw, height: ch };
}

/** HWC uint8 -> CHW float32: rescale in float64 then float32, normalise in float32 (as numpy does). */
function toPixelValues(img: Rgb8, cfg: ImageProcessorConfig): Float32Array {
  const { data, width, height } = img;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  const f = Math.fround;
  for (let c = 0; c < 3; c++) {
    const mean = f(cfg.imageMean[c]!);
    const std = f(cfg.imageStd[c]!);
    for (let i = 0; i < plane; i++) {
      let v = data[i * 3 + c]!;
      if (cfg.doRescale) v = f(v * cfg.rescaleFactor);
      if (cfg.doNormalize) v = f(f(v - mean) / std);
      out[c * plane + i] = v;
    }
  }
  return out;
}
