// Swagger UI for this server's own /openapi.json. No inline script (the page's CSP allows only this origin).
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  if (typeof window.SwaggerUIBundle !== "function") {
    document.getElementById("swagger-ui").textContent =
      "Swagger UI is not installed on this server (pip install flask-swagger-ui); see /openapi.json.";
    return;
  }
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    // "Try it out" calls the server that serves this page, whatever address the document lists.
    requestInterceptor: (req) => {
      const url = new URL(req.url, window.location.origin);
      if (url.pathname !== "/openapi.json" && url.origin !== window.location.origin) {
        req.url = window.location.origin + url.pathname + url.search;
      }
      return req;
    },
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,           // never call the public validator: this page works offline
    tryItOutEnabled: false,
    persistAuthorization: false,
    supportedSubmitMethods: ["get", "post"],
  });
});
