// Starts Swagger UI on /docs. The page's policy runs no inline script, so the settings come
// from the page as JSON in the data-config attribute of #swagger-ui (see apidocs.py).
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  var config = JSON.parse(root.getAttribute("data-config"));
  var initOAuth = config.initOAuth;
  delete config.initOAuth;
  if (config.oauth2RedirectUrl) {
    config.oauth2RedirectUrl = window.location.origin + config.oauth2RedirectUrl;
  }
  config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
  window.ui = SwaggerUIBundle(config);
  if (initOAuth) {
    window.ui.initOAuth(initOAuth);
  }
})();
