// `node --import ./register.mjs drive.mjs`: see extensionless.mjs.
import { register } from 'node:module';

register('./extensionless.mjs', import.meta.url);
