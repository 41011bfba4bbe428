"use strict";

// The page talks to POST /api/predict and shows its answer; nothing is loaded from elsewhere.
(() => {
  const $ = (id) => document.getElementById(id);
  const drop = $("drop");
  const fileInput = $("file");
  const statusLine = $("status");
  const result = $("result");
  const latexBox = $("latex");
  const copyButton = $("copy");
  const inputImg = $("input-img");
  const renderImg = $("render-img");
  const renderError = $("render-error");
  const heat = $("heat");
  const tokensBox = $("tokens");
  const DISPLAY_SCALE = 2;

  let attention = null;
  let pending = null;

  function setStatus(text, kind) {
    statusLine.textContent = text;
    statusLine.className = "status" + (kind ? " " + kind : "");
  }

  async function predict(blob, name) {
    if (!blob.type.startsWith("image/")) {
      setStatus(`${name} is not an image (${blob.type || "unknown type"}).`, "error");
      return;
    }
    if (pending) pending.abort();
    pending = new AbortController();
    const form = new FormData();
    form.append("file", blob, name);
    const params = new URLSearchParams({
      beam: $("beam").value,
      verify: $("verify").checked,
      attention: true,
      render: true,
    });
    setStatus(`Reading ${name}…`, "busy");
    try {
      const response = await fetch(`/api/predict?${params}`, {
        method: "POST",
        body: form,
        signal: pending.signal,
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        throw new Error(body.detail || `the server answered ${response.status}`);
      }
      show(body);
      setStatus("");
    } catch (err) {
      if (err.name !== "AbortError") setStatus(`Could not read ${name}: ${err.message}`, "error");
    }
  }

  function show(body) {
    latexBox.textContent = body.latex;
    $("score").textContent = body.score.toFixed(3);
    $("seconds").textContent = body.seconds.toFixed(2);
    const badge = $("verified");
    badge.hidden = body.verified === null || body.verified === undefined;
    if (!badge.hidden) {
      badge.textContent = body.verified ? "render matches the input" : "render differs from the input";
      badge.className = "badge " + (body.verified ? "good" : "bad");
    }
    setImage(inputImg, body.input_png);
    setImage(renderImg, body.render_png);
    renderError.hidden = !body.render_error;
    renderError.textContent = body.render_error ? `Not rendered: ${body.render_error}` : "";
    attention = decodeAttention(body.attention);
    showTokens(body.tokens.split(" ").filter(Boolean));
    clearHeat();
    copyButton.textContent = "Copy";
    copyButton.classList.remove("done");
    result.hidden = false;
  }

  function setImage(img, base64) {
    img.hidden = !base64;
    if (!base64) return;
    img.onload = () => {
      img.style.width = `${img.naturalWidth * DISPLAY_SCALE}px`;
    };
    img.src = `data:image/png;base64,${base64}`;
  }

  function decodeAttention(maps) {
    if (!maps) return null;
    const raw = atob(maps.data);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return { rows: maps.rows, cols: maps.cols, bytes };
  }

  function showTokens(tokens) {
    tokensBox.replaceChildren();
    tokens.forEach((token, index) => {
      const chip = document.createElement("span");
      chip.className = "token";
      chip.textContent = token;
      chip.addEventListener("mouseenter", () => {
        chip.classList.add("active");
        drawHeat(index);
      });
      chip.addEventListener("mouseleave", () => {
        chip.classList.remove("active");
        clearHeat();
      });
      tokensBox.append(chip);
    });
  }

  function drawHeat(index) {
    if (!attention || inputImg.hidden) return;
    const { rows, cols, bytes } = attention;
    const offset = index * rows * cols;
    if (offset + rows * cols > bytes.length) return;
    heat.width = cols;
    heat.height = rows;
    const ctx = heat.getContext("2d");
    const pixels = ctx.createImageData(cols, rows);
    for (let i = 0; i < rows * cols; i++) {
      const v = bytes[offset + i] / 255;
      pixels.data[4 * i] = 255;
      pixels.data[4 * i + 1] = Math.round(255 - 170 * v);
      pixels.data[4 * i + 2] = Math.round(255 - 235 * v);
      pixels.data[4 * i + 3] = 255;
    }
    ctx.putImageData(pixels, 0, 0);
    Object.assign(heat.style, {
      left: `${inputImg.offsetLeft}px`,
      top: `${inputImg.offsetTop}px`,
      width: `${inputImg.clientWidth}px`,
      height: `${inputImg.clientHeight}px`,
    });
    heat.hidden = false;
  }

  function clearHeat() {
    heat.hidden = true;
  }

  async function copyLatex() {
    const text = latexBox.textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const range = document.createRange();
      range.selectNodeContents(latexBox);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      document.execCommand("copy");
    }
    copyButton.textContent = "Copied";
    copyButton.classList.add("done");
  }

  drop.addEventListener("click", (event) => {
    if (!event.target.closest("select, input, label")) fileInput.click();
  });
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      fileInput.click();
    }
  });
  fileInput.addEventListener("change", () => {
    const file = fileInput.files[0];
    if (file) predict(file, file.name);
    fileInput.value = "";
  });
  ["dragenter", "dragover"].forEach((type) =>
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    }),
  );
  ["dragleave", "drop"].forEach((type) =>
    drop.addEventListener(type, () => drop.classList.remove("over")),
  );
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = event.dataTransfer.files[0];
    if (file) predict(file, file.name);
  });
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  document.addEventListener("paste", (event) => {
    const item = [...event.clipboardData.items].find((i) => i.type.startsWith("image/"));
    if (item) predict(item.getAsFile(), "pasted image");
  });
  copyButton.addEventListener("click", copyLatex);
})();
