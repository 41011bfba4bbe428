// Typesets a batch of formulas one below the other with the page's engine (`window.typesetOne`)
// and reports, per formula, its box in document pixels or the engine's reason for refusing it.
"use strict";

window.typesetBatch = async (formulas) => {
  await new Promise((resolve) => setTimeout(resolve, 0)); // the caller returns before the work
  const list = document.getElementById("formulas");
  list.replaceChildren();
  const items = formulas.map((tex) => {
    const element = document.createElement("div");
    element.className = "formula";
    list.append(element);
    try {
      window.typesetOne(tex, element);
      return { element, error: null };
    } catch (error) {
      element.remove();
      return { element: null, error: String((error && error.message) || error) };
    }
  });
  await document.fonts.ready;
  return items.map(({ element, error }) => {
    if (element === null) return { box: null, error };
    const rect = element.getBoundingClientRect();
    return {
      box: [rect.left + window.scrollX, rect.top + window.scrollY, rect.width, rect.height],
      error: null,
    };
  });
};

// Starts a batch and leaves its result in `window.batchResult`, so that the caller can wait for
// it with a deadline.
window.startBatch = (formulas) => {
  window.batchResult = null;
  window.typesetBatch(formulas).then(
    (items) => { window.batchResult = { items }; },
    (error) => { window.batchResult = { failed: String(error) }; },
  );
};
