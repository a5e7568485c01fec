// MobileGAN page: send each dropped image to /api/segment (one at a time, so results
// appear as they are ready), show the answer, and build the CSV in the browser.
"use strict";

const state = {
  config: null,        // /api/health
  rows: [],            // one CSV row per finished file, in upload order
  urls: [],            // blob URLs to revoke on "Clear"
  takenIds: new Set(), // ids of this page's results, lower-cased (see uniqueId)
  queue: [],
  busy: false,
  done: 0,
  total: 0,
  started: 0,
};

const $ = (selector, root = document) => root.querySelector(selector);

function formatInt(n) {
  return Number(n).toLocaleString("en-US");
}

function blobUrl(image) {
  // base64 -> Blob URL: large images stay downloadable (data URLs have length limits).
  const bytes = Uint8Array.from(atob(image.base64), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type: image.mime }));
  state.urls.push(url);
  return url;
}

async function loadHealth() {
  const info = $("#model-info");
  try {
    const response = await fetch("/api/health");
    state.config = await response.json();
  } catch (error) {
    info.textContent = "The server does not answer: is `mobilegan serve` running?";
    info.classList.add("bad");
    return;
  }
  const c = state.config;
  const uncertainty = c.uncertainty ? `uncertainty from ${c.samples} samples` : "no uncertainty map";
  info.textContent = `${c.backend} backend · ${uncertainty} · v${c.version}`;
  if (c.keeps_uploads) {
    $("#privacy").textContent = "This server keeps a copy of every upload (--keep-uploads).";
  }
  $("#limits").textContent =
    `${c.formats} · up to ${c.max_upload_mb} MB and ` +
    `${formatInt(c.max_pixels)} pixels per image · one or several at once`;
}

function newCard(file) {
  const card = $("#card-template").content.firstElementChild.cloneNode(true);
  $(".name", card).textContent = file.name;
  $(".name", card).title = file.name;
  $("#results").append(card);
  updateLayout();
  return card;
}

function updateLayout() {
  const count = $("#results").children.length;
  $("#results").classList.toggle("gallery", count > 1);
  $("#toolbar").hidden = count === 0;
}

function showError(card, filename, message) {
  card.dataset.state = "error";
  $(".pending-message", card).hidden = true;
  const box = $(".error-message", card);
  box.textContent = message;
  box.hidden = false;
  state.rows.push({ filename, status: "error", error: message });
}

function setDownload(link, image) {
  link.href = blobUrl(image);
  link.download = image.filename;
  link.hidden = false;
}

function showImage(img, url) {
  // Clicking a picture opens it at full size in a new tab.
  img.src = url;
  img.hidden = false;
  img.parentElement.href = url;
}

// The page sends one image per request, so the server cannot tell two uploads of one name
// apart (a.jpg and a.png, or one photo twice): the page does, as `mobilegan segment` does,
// so that their downloads never share a name (a, a_2, a_3...).
function uniqueId(id) {
  let name = id;
  for (let n = 2; state.takenIds.has(name.toLowerCase()); n += 1) {
    const suffix = `_${n}`;  // room is made for it, as segment does: a longest id keeps it
    name = shortenedId(id, suffix.length).replace(/[._-]+$/, "") + suffix;
  }
  state.takenIds.add(name.toLowerCase());
  return name;
}

// `mobilegan segment`'s id limits (inference/batch.py ID_CHARS, ID_BYTES): characters, and
// bytes of UTF-8, with `room` still to add.
const ID_CHARS = 150, ID_BYTES = 200;
const utf8 = new TextEncoder();
function shortenedId(text, room) {
  const chars = Array.from(text).slice(0, ID_CHARS - room);
  while (chars.length && utf8.encode(chars.join("")).length > ID_BYTES - room) chars.pop();
  return chars.join("");
}

function renameResult(r, id) {
  for (const image of [r.mask, r.overlay, r.uncertainty]) {
    if (image && image.filename.startsWith(r.id)) {
      image.filename = id + image.filename.slice(r.id.length);
    }
  }
  r.row.id = id;
  r.id = id;
}

function showResult(card, r) {
  const id = uniqueId(r.id);
  if (id !== r.id) renameResult(r, id);
  card.dataset.state = "done";
  card.dataset.id = r.id;
  $(".pending-message", card).hidden = true;
  $(".dims", card).textContent = `${r.width} × ${r.height} px`;
  $(".body", card).hidden = false;

  showImage($("img.overlay", card), blobUrl(r.overlay));
  showImage($("img.mask", card), blobUrl(r.mask));
  if (r.uncertainty) {
    showImage($("img.uncertainty", card), blobUrl(r.uncertainty));
    setDownload($(".download-uncertainty", card), r.uncertainty);
  } else {
    const note = $(".not-available", card);
    note.textContent = r.uncertainty_note || "Not available.";
    note.hidden = false;
  }

  $(".area", card).textContent =
    `${formatInt(r.area_pixels)} px (${r.area_percent.toFixed(1)} %)`;
  const confidence = $(".confidence", card);
  // An empty mask or a strip is flagged at any score: "flagged", not "low", then.
  const verdict = !r.low_confidence ? "good"
    : (r.review_reason && r.review_reason !== "low_confidence") ? "flagged" : "low";
  confidence.textContent = `${r.confidence.toFixed(2)} (${verdict})`;
  confidence.classList.toggle("low", r.low_confidence);
  $(".seconds", card).textContent = `${r.seconds.toFixed(2)} s`;
  if (r.low_confidence) {
    const flag = $(".flag", card);
    flag.textContent = r.review_message;
    flag.hidden = false;
  }
  setDownload($(".download-mask", card), r.mask);
  $(".download-mask", card).textContent = "Download mask";
  $(".download-mask", card).title = r.mask.filename;
  setDownload($(".download-overlay", card), r.overlay);
  state.rows.push(r.row);
}

async function segment(file, card) {
  const c = state.config;
  if (c && file.size > c.max_upload_mb * 1024 * 1024) {
    const mb = (file.size / (1024 * 1024)).toFixed(1);
    showError(card, file.name, `${file.name} is ${mb} MB, over this server's limit of ` +
      `${c.max_upload_mb} MB per image (start \`mobilegan serve\` with a larger --max-upload-mb).`);
    return;
  }
  const form = new FormData();
  form.append("files", file, file.name);
  let response;
  try {
    response = await fetch("/api/segment", { method: "POST", body: form });
  } catch (error) {
    showError(card, file.name, "The server did not answer: is `mobilegan serve` still running?");
    return;
  }
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    body = null;
  }
  if (!response.ok || !body || !body.results) {
    const message = (body && body.error) || `the server answered HTTP ${response.status}`;
    showError(card, file.name, `${file.name}: ${message}`);
    return;
  }
  const r = body.results[0];
  if (r.ok) {
    showResult(card, r);
  } else {
    showError(card, file.name, r.error);
  }
}

function setStatus() {
  const status = $("#status");
  if (state.busy) {
    status.textContent = `Segmenting ${state.done + 1} of ${state.total}…`;
  } else if (state.total) {
    const seconds = ((performance.now() - state.started) / 1000).toFixed(1);
    const failed = state.rows.filter((row) => row.status === "error").length;
    const failedText = failed ? ` (${failed} could not be read)` : "";
    status.textContent = `${state.rows.length} image(s) done${failedText} · last batch ${seconds} s`;
  }
}

function refreshCsv() {
  const link = $("#csv");
  if (!state.rows.length) {
    link.hidden = true;
    return;
  }
  const columns = ["filename", "status", "error"];
  for (const row of state.rows) {
    for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  }
  // A file name or message starting like a formula stays text in a spreadsheet (CSV
  // injection), as the server's CSV does it (mobilegan.inference.batch.spreadsheet_text).
  const textCells = ["filename", "error"];
  const cell = (value, key) => {
    let text = value === undefined || value === null ? "" : String(value);
    if (textCells.includes(key) && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [columns.join(",")];
  for (const row of state.rows) lines.push(columns.map((k) => cell(row[k], k)).join(","));
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
  link.textContent = `Download CSV (${state.rows.length})`;
  link.hidden = false;
}

async function drain() {
  if (state.busy) return;
  state.busy = true;
  while (state.queue.length) {
    const { file, card } = state.queue.shift();
    setStatus();
    await segment(file, card);
    state.done += 1;
    refreshCsv();
  }
  state.busy = false;
  setStatus();
}

function addFiles(files) {
  if (!files.length) return;
  if (!state.busy) {
    state.done = 0;
    state.total = 0;
    state.started = performance.now();
  }
  for (const file of files) {
    state.queue.push({ file, card: newCard(file) });
    state.total += 1;
  }
  drain();
}

function clearAll() {
  if (state.busy) return;
  for (const url of state.urls) URL.revokeObjectURL(url);
  state.urls = [];
  state.rows = [];
  state.takenIds.clear();
  state.total = 0;
  $("#results").replaceChildren();
  $("#status").textContent = "";
  refreshCsv();
  updateLayout();
}

function setUp() {
  const drop = $("#drop");
  const input = $("#file-input");
  input.addEventListener("change", () => {
    addFiles(Array.from(input.files));
    input.value = "";
  });
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    addFiles(Array.from(event.dataTransfer.files));
  });
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") input.click();
  });
  // A file dropped beside the zone must not make the browser navigate away.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  $("#clear").addEventListener("click", clearAll);
  loadHealth();
}

document.addEventListener("DOMContentLoaded", setUp);
