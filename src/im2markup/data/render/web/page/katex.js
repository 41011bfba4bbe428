// KaTeX for untrusted input: no command that reaches outside the formula (\href, \url,
// \includegraphics, \htmlClass, ...) is trusted, macro expansion and sizes are bounded, and a
// refused command fails the formula instead of being drawn in red.
"use strict";

window.typesetOne = (tex, element) => {
  const refused = [];
  katex.render(tex, element, {
    displayMode: true,
    output: "html",
    throwOnError: true,
    strict: "ignore",
    trust: (context) => {
      refused.push(context.command);
      return false;
    },
    maxExpand: 1000,
    maxSize: 50,
  });
  if (refused.length > 0) {
    throw new Error(`untrusted command refused: ${refused.join(", ")}`);
  }
};
window.typesetReady = true;
