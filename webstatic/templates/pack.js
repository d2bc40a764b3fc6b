// A vmemlab pack (see webstatic/pack.py): the site's Python packages in one file, written
// straight into Pyodide's file system. Shared by the browser worker and the build (Node.js).
const PACK_MAGIC = 'VMEMLAB-PACK-1\n';

// bytes: the inflated pack (Uint8Array). Returns [[path, start, end], ...].
function parsePack(bytes) {
  const magic = new TextDecoder().decode(bytes.subarray(0, PACK_MAGIC.length));
  if (magic !== PACK_MAGIC) throw new Error('not a vmemlab pack');
  let at = PACK_MAGIC.length;
  const size = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true);
  at += 4;
  const index = JSON.parse(new TextDecoder().decode(bytes.subarray(at, at + size)));
  at += size;
  return index.map(([path, n]) => { const entry = [path, at, at + n]; at += n; return entry; });
}

// Write every file of the pack under root (site-packages); Python must then invalidate its
// import caches (importlib.invalidate_caches) before importing from them.
function installPack(pyodide, bytes, root) {
  const made = new Set();
  const files = parsePack(bytes);
  for (const [path, start, end] of files) {
    const dir = `${root}/${path}`.replace(/\/[^/]*$/, '');
    if (!made.has(dir)) {
      pyodide.FS.mkdirTree(dir);
      made.add(dir);
    }
    pyodide.FS.writeFile(`${root}/${path}`, bytes.subarray(start, end));
  }
  return files.length;
}

if (typeof module !== 'undefined') module.exports = {parsePack, installPack};
