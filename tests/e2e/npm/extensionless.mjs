// `@civitai/client` is published for bundlers: its ES modules import relative paths without
// an extension (`./generated`, `./sdk.gen`), which Node's own ESM resolver refuses. These
// hooks retry such a specifier as `<path>.js` or `<path>/index.js`, as a bundler would.
// Loaded with `node --import ./register.mjs`.
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (!specifier.startsWith('.')) throw error;
    if (error.code === 'ERR_UNSUPPORTED_DIR_IMPORT') {
      return nextResolve(`${specifier}/index.js`, context);
    }
    if (error.code === 'ERR_MODULE_NOT_FOUND') {
      return nextResolve(`${specifier}.js`, context);
    }
    throw error;
  }
}
