// Build step of `vmemlab build-web`: compile the modules the site imports to bytecode, with the
// very Pyodide that will run them, so browsers skip compiling Python sources on each cold load.
// Usage: node compile_bytecode.js PACK_JS PYODIDE_DIR PACK STARTUP_PY OUT_DIR PACKAGE...
// Loads PACKAGE... from PYODIDE_DIR (through its pyodide-lock.json) and installs PACK as the
// browser worker does, runs STARTUP_PY (the page's own start-up code), then compiles every module
// imported so far (Pyodide's own start included): OUT_DIR/site/ as in site-packages,
// OUT_DIR/stdlib/ as in python_stdlib.zip.
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const [packJs, pyodideDir, packFile, startupFile, outDir, ...packages] = process.argv.slice(2);
const {installPack} = require(path.resolve(packJs));
const {loadPyodide} = require(path.resolve(pyodideDir, 'pyodide.js'));

// What the start-up code reads from the browser worker's globals, and nothing else.
globalThis.location = {search: ''};
globalThis.XMLHttpRequest = class {};

(async () => {
  const pyodide = await loadPyodide({indexURL: path.resolve(pyodideDir) + '/'});
  const errors = [];
  await pyodide.loadPackage(packages, {messageCallback: () => {}, errorCallback: (m) => errors.push(m)});
  if (errors.length) throw new Error(errors.join('\n'));
  const root = pyodide.runPython('import site; site.getsitepackages()[0]');
  installPack(pyodide, new Uint8Array(zlib.gunzipSync(fs.readFileSync(packFile))), root);
  pyodide.runPython('import importlib; importlib.invalidate_caches()');
  await pyodide.runPythonAsync(fs.readFileSync(startupFile, 'utf8'));
  pyodide.FS.mkdirTree('/out');
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, {root: path.resolve(outDir)}, '/out');
  pyodide.runPython(`
import importlib.util, py_compile, site, sys, zipimport
from importlib._bootstrap_external import _code_to_hash_pyc
from pathlib import Path
root = Path(site.getsitepackages()[0])
files = {Path(m.__file__): m for m in list(sys.modules.values())
         if getattr(m, "__file__", None) and m.__file__.endswith(".py")}
for source in sorted(f for f in files if f.is_relative_to(root)):
    pyc = Path(importlib.util.cache_from_source(str(source)))
    py_compile.compile(str(source), cfile=str(Path("/out/site") / pyc.relative_to(root)), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
# The standard library is a zip of sources in Pyodide 0.27 (/lib/python312.zip); zipimport looks
# for "name.pyc" next to "name.py" inside it. Frozen modules (os, codecs, ...) are skipped: they
# are compiled into the runtime already.
for source, m in sorted(files.items()):
    if isinstance(m.__loader__, zipimport.zipimporter):
        data = m.__loader__.get_data(str(source))
        code = compile(data, str(source), "exec", dont_inherit=True)
        out = Path("/out/stdlib") / (str(source.relative_to(m.__loader__.archive)) + "c")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(_code_to_hash_pyc(code, importlib.util.source_hash(data), checked=False))
`);
})().catch((e) => { console.error(String(e && e.message || e).slice(-3000)); process.exit(1); });
