// vmemlab static site: the web worker that runs Pyodide and the Panel app.
// Rendered by `vmemlab build-web` (vmemlab/webstatic/page.py); derived from Panel's
// pyodide_worker.js template (BSD-3-Clause), with local files, integrity checks and progress.

const PACKAGES = {{ packages }};      // lock names (numpy), loaded in one loadPackage call
const PACKAGE_BYTES = {{ package_bytes }};  // file name -> size, for the progress bar
const PACK = {{ pack }};              // the pure-Python packages: url and integrity (sha256)
const STDLIB = {{ stdlib }};          // python_stdlib.zip (with the build's bytecode): url and integrity

function progress(step, text, extra) {
  self.postMessage(Object.assign({type: 'progress', step: step, text: text, at: Date.now()}, extra || {}));
}

function fail(text) {
  self.postMessage({type: 'error', text: text, at: Date.now()});
}

function sendPatch(patch, buffers, msg_id) {
  self.postMessage({type: 'patch', patch: patch, buffers: buffers});
}

// Every fetch of the worker, Pyodide's own included, goes through here: a file with a sha256 in
// STDLIB or PACK is fetched with Subresource Integrity (the browser refuses other bytes), and the
// bytes of package files are counted for the progress bar as they arrive.
const fileName = (url) => String(url).split('/').pop();
const refused = {};   // file name -> why it failed to load or to verify
function checkedFetches() {
  const integrity = {[fileName(STDLIB.url)]: STDLIB.integrity, [fileName(PACK.url)]: PACK.integrity};
  const total = Object.values(PACKAGE_BYTES).reduce((a, b) => a + b, 0);
  const plainFetch = self.fetch.bind(self);
  let done = 0;
  self.fetch = async (url, options) => {
    const name = fileName(url);
    let response;
    try {
      response = await plainFetch(url, name in integrity ? {...options, integrity: integrity[name]} : options);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
    } catch (e) {
      refused[name] = `${url}: ${e.message}`;
      throw e;
    }
    if (name in PACKAGE_BYTES) {
      const read = response.arrayBuffer.bind(response);
      response.arrayBuffer = async () => {
        const buffer = await read();
        done += buffer.byteLength;
        progress('packages', `Fetching packages: ${(done / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`,
                 {done: done, total: total});
        return buffer;
      };
    }
    return response;
  };
}

// The pack, inflated by the browser; fetched while the runtime starts.
async function fetchPack() {
  const response = await fetch(PACK.url);
  const inflated = new Blob([await response.arrayBuffer()]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(inflated).arrayBuffer());
}

async function startApplication() {
  progress('runtime', 'Fetching the Python runtime (Pyodide {{ pyodide_version }}, WebAssembly)');
  checkedFetches();
  const pack = fetchPack();
  pack.catch(() => {});  // reported below, once the runtime is up
  try {
    importScripts('./pyodide/pyodide.js');
  } catch (e) {
    fail(`Could not load pyodide/pyodide.js: ${e.message}`);
    return;
  }
  try {
    self.pyodide = await loadPyodide({indexURL: './pyodide/'});
  } catch (e) {
    const stdlib = refused[fileName(STDLIB.url)];
    fail(stdlib ? `The standard library failed to load or did not match its sha256: ${stdlib}`
                : `The Python runtime did not start (pyodide/pyodide.asm.wasm missing or broken): ${e.message}`);
    return;
  }
  progress('runtime-done', 'Python runtime started');
  const errors = [];
  await self.pyodide.loadPackage(PACKAGES, {
    messageCallback: () => {},
    errorCallback: (msg) => errors.push(msg),
    checkIntegrity: true,
  });
  if (errors.length) {
    fail('A package file failed to load or did not match its sha256 in pyodide/pyodide-lock.json:\n' +
         errors.join('\n'));
    return;
  }
  try {
    const root = self.pyodide.runPython('import site; site.getsitepackages()[0]');
    installPack(self.pyodide, await pack, root);
    self.pyodide.runPython('import importlib; importlib.invalidate_caches()');
  } catch (e) {
    fail(`The Python packages (${PACK.url}) failed to load or did not match their sha256: ${e.message}`);
    return;
  }
  progress('packages-done', 'Packages loaded and verified');
  progress('model', 'Starting the model and building the view');
  self.pyodide.globals.set('sendPatch', sendPatch);
  try {
    await self.pyodide.runPythonAsync(`{{ prelude }}`);
    const [docs_json, render_items, root_ids] = await self.pyodide.runPythonAsync(`{{ code }}`);
    progress('model-done', 'Model started');
    self.postMessage({type: 'render', docs_json: docs_json, render_items: render_items, root_ids: root_ids});
  } catch (e) {
    const lines = `${e}`.trim().split('\n');
    fail(`The app failed to start: ${lines[lines.length - 1]}`);
    console.error(e);
  }
}

// Messages from the page are handled one at a time, in order. Each handler hands Python its data
// in a global and runs code that can yield (runPythonAsync), so two interleaved handlers would
// read each other's data: a click applied twice and the typed value before it lost.
let handled = Promise.resolve();
self.onmessage = (event) => {
  handled = handled.then(() => handle(event.data)).catch((e) => console.error(e));
};

async function handle(msg) {
  if (msg.type === 'rendered') {
    await self.pyodide.runPythonAsync(`
    from panel.io.state import state
    from panel.io.pyodide import _link_docs_worker

    _link_docs_worker(state.curdoc, sendPatch, setter='js')
    `);
  } else if (msg.type === 'patch') {
    self.pyodide.globals.set('patch', msg.patch);
    try {
      await self.pyodide.runPythonAsync(`
    from panel.io.pyodide import _convert_json_patch
    state.curdoc.apply_json_patch(_convert_json_patch(patch), setter='js')
    `);
    } catch (e) {
      console.error(e);
    }
    self.postMessage({type: 'idle', at: Date.now()});
  } else if (msg.type === 'location') {
    self.pyodide.globals.set('location', msg.location);
    await self.pyodide.runPythonAsync(`
    import json
    from panel.io.state import state
    from panel.util import edit_readonly
    if state.location:
        loc_data = json.loads(location)
        with edit_readonly(state.location):
            state.location.param.update({
                k: v for k, v in loc_data.items() if k in state.location.param
            })
    `);
  }
}

startApplication();
