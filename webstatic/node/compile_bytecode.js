// Build step of `vmemlab build-web`: compile the modules the site imports to bytecode, with the
// very Pyodide that will run them, so browsers skip compiling Python sources on each cold load.
// Usage: node compile_bytecode.js PYODIDE_DIR OUT_DIR STARTUP_PY PACKAGE...
// Loads PACKAGE... from PYODIDE_DIR (through its pyodide-lock.json, as the browser does), runs
// STARTUP_PY (the page's own start-up code), then compiles every module it imported from
// site-packages and copies the .pyc files into OUT_DIR, laid out as in site-packages.
const fs = require('fs');
const path = require('path');
const [pyodideDir, outDir, startupFile, ...packages] = process.argv.slice(2);
const {loadPyodide} = require(path.resolve(pyodideDir, 'pyodide.js'));

// What the start-up code reads from the browser worker's globals, and nothing else.
globalThis.location = {search: ''};
globalThis.XMLHttpRequest = class {};

(async () => {
  const pyodide = await loadPyodide({indexURL: path.resolve(pyodideDir) + '/'});
  const errors = [];
  await pyodide.loadPackage(packages, {messageCallback: () => {}, errorCallback: (m) => errors.push(m)});
  if (errors.length) throw new Error(errors.join('\n'));
  await pyodide.runPythonAsync(fs.readFileSync(startupFile, 'utf8'));
  pyodide.FS.mkdirTree('/out');
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, {root: path.resolve(outDir)}, '/out');
  pyodide.runPython(`
import importlib.util, py_compile, site, sys
from pathlib import Path
root = Path(site.getsitepackages()[0])
sources = sorted({Path(m.__file__) for m in list(sys.modules.values())
                  if getattr(m, "__file__", None) and m.__file__.endswith(".py")
                  and Path(m.__file__).is_relative_to(root)})
for source in sources:
    pyc = Path(importlib.util.cache_from_source(str(source)))
    py_compile.compile(str(source), cfile=str(Path("/out") / pyc.relative_to(root)), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
`);
})().catch((e) => { console.error(String(e && e.message || e).slice(-3000)); process.exit(1); });
