// Where the bundled demo model and data are: assets/ at the package root, shipped with it (the
// code runs from dist/src, two levels below).
import { join } from 'node:path';

const ASSETS = join(__dirname, '..', '..', 'assets');
export const BUNDLED_MODEL = join(ASSETS, 'mini-ml');
export const BUNDLED_DATA = join(ASSETS, 'data');
