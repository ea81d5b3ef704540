/* Lazy loader: swaps data-src/data-srcset into src/srcset, as news templates do. */
(function () {
  "use strict";
  function load(img) {
    if (img.dataset.srcset) { img.srcset = img.dataset.srcset; }
    if (img.dataset.src) { img.src = img.dataset.src; }
    img.removeAttribute("data-src");
    img.removeAttribute("data-srcset");
  }
  document.querySelectorAll("img[data-src]").forEach(load);
})();
