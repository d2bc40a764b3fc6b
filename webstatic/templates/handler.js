// vmemlab static site: the page side. Takes over the worker start.html started, shows loading
// progress and errors,
// embeds the Bokeh document it sends and keeps both sides in sync.
// Derived from Panel's pyodide_handler.js template (BSD-3-Clause).
(function () {
  const site = window.vmemlabSite = {state: 'loading', marks: {}, lastPatchAt: 0, lastIdleAt: 0, patches: 0};
  const box = document.getElementById('vm-loading');
  const bar = document.getElementById('vm-loading-bar');
  const text = document.getElementById('vm-loading-text');
  const ms = () => Date.now() - performance.timeOrigin;

  // ``at`` is the worker's clock (Date.now()); the main thread may be busy when a message arrives.
  function mark(step, at) {
    site.marks[step] = (at || Date.now()) - performance.timeOrigin;
    const li = document.querySelector(`#vm-loading-steps [data-step="${step.replace('-done', '')}"]`);
    if (li) li.className = step.endsWith('-done') ? 'done' : 'active';
  }

  function fail(message) {
    site.state = 'error';
    site.error = message;
    document.body.dataset.site = 'error';
    box.classList.add('vm-failed');
    text.textContent = message;
    console.error(message);
  }

  if (typeof WebAssembly !== 'object' || typeof WebAssembly.instantiate !== 'function') {
    fail('This browser has no WebAssembly, so Python cannot run in it. Use a current Firefox, ' +
         'Chrome, Edge or Safari, or ask for the server version (vmemlab serve).');
    return;
  }
  if (typeof Worker !== 'function') {
    fail('This browser cannot start web workers, which the sandbox needs. Use a current browser.');
    return;
  }
  if (typeof DecompressionStream !== 'function') {
    fail('This browser cannot inflate gzip data (no DecompressionStream), which loading the Python ' +
         'packages needs. Use Chrome or Edge 80+, Firefox 113+ or Safari 16.4+.');
    return;
  }

  // Started at the top of <head> (start.html) so Pyodide boots while this page is parsed.
  const worker = window.vmemlabWorker;
  site.worker = worker;
  worker.busy = false;
  worker.queue = [];
  let patching = 0;

  function sendChange(jsdoc, event) {
    if ((event.setter_id != null && event.setter_id == 'py') || (patching > 0)) {
      return;
    } else if (worker.busy && event.model && event.attr) {
      worker.queue = worker.queue.filter((old) => !(old.model === event.model && old.attr === event.attr));
      worker.queue.push(event);
      return;
    }
    worker.busy = true;
    worker.postMessage({type: 'patch', patch: jsdoc.create_json_patch([event])});
  }

  worker.onerror = (e) => fail(`The sandbox worker failed to load (app.js): ${e.message || 'file missing?'}`);

  async function onMessage(event) {
    const msg = event.data;
    if (site.state === 'error') {
      return;  // the first error stays on the card; downloads still running may report later
    } else if (msg.type === 'progress') {
      mark(msg.step, msg.at);
      if (!msg.step.endsWith('-done')) text.textContent = msg.text;
      if (msg.total) bar.style.width = `${(100 * msg.done / msg.total).toFixed(1)}%`;
    } else if (msg.type === 'error') {
      fail(msg.text);
    } else if (msg.type === 'idle') {
      site.lastIdleAt = msg.at - performance.timeOrigin;
      if (worker.queue.length) {
        const patch = worker.jsdoc.create_json_patch(worker.queue);
        worker.queue = [];
        worker.postMessage({type: 'patch', patch: patch});
      } else {
        worker.busy = false;
      }
    } else if (msg.type === 'render') {
      mark('view');
      text.textContent = 'Drawing the page';
      const docs_json = JSON.parse(msg.docs_json);
      const render_items = JSON.parse(msg.render_items);
      const root_ids = JSON.parse(msg.root_ids);

      // Map the worker's roots onto the pre-rendered elements, then replace them.
      const data_roots = [];
      for (const el of document.querySelectorAll('[data-root-id]')) {
        el.innerHTML = '';
        data_roots.push([el.getAttribute('data-root-id'), el.id]);
      }
      data_roots.sort((a, b) => a[0] < b[0] ? -1 : 1);
      const roots = {};
      for (let i = 0; i < data_roots.length; i++) roots[root_ids[i]] = data_roots[i][1];
      render_items[0]['roots'] = roots;
      render_items[0]['root_ids'] = root_ids;
      Bokeh.index.roots.map((v) => v.remove());
      const [views] = await Bokeh.embed.embed_items(docs_json, render_items);

      worker.jsdoc = site.doc = [...views.roots.values()][0].model.document;
      worker.jsdoc.on_change(sendChange.bind(null, worker.jsdoc), false);
      worker.postMessage({type: 'rendered'});
      worker.postMessage({type: 'location', location: JSON.stringify(window.location)});
      mark('view-done');
      box.remove();
      site.state = 'ready';
      document.body.dataset.site = 'ready';
    } else if (msg.type === 'patch') {
      try {
        patching += 1;
        worker.jsdoc.apply_json_patch(msg.patch, msg.buffers);
      } finally {
        patching -= 1;
      }
      site.patches += 1;
      site.lastPatchAt = ms();
    }
  }

  const early = worker.early;
  worker.onmessage = onMessage;
  early.forEach(onMessage);
})();
