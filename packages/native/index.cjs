// The native mask kernel, or null where it was not built (see install.cjs) or cannot load.
'use strict';
let kernel = null;
let reason = null;
try {
  kernel = require('./build/Release/tally_native.node');
} catch (err) {
  reason = err && err.message ? String(err.message).split('\n')[0] : String(err);
}
module.exports = { kernel, reason };
