// Ours, not Thunderbird's: the Gecko globals that Thunderbird's account set-up modules use,
// reduced to what the paths under test need. Anything else they reach for throws, so that a
// newer copy of the modules that needs more fails loudly instead of quietly.
"use strict";

// Modules named in ChromeUtils.defineESModuleGetters are imported up front by harness.html
// (Gecko imports them synchronously on first use, which a page cannot).
globalThis.geckoModules = {};

globalThis.ChromeUtils = {
  defineESModuleGetters(target, modules) {
    for (const [name, url] of Object.entries(modules)) {
      Object.defineProperty(target, name, {
        configurable: true,
        get() {
          if (!(url in geckoModules)) {
            throw new Error(`harness.html does not load ${url}`);
          }
          return geckoModules[url][name];
        },
      });
    }
  },
  defineLazyGetter(target, name, make) {
    let value;
    let made = false;
    Object.defineProperty(target, name, {
      configurable: true,
      get() {
        if (!made) {
          value = make();
          made = true;
        }
        return value;
      },
    });
  },
};

// Thunderbird's defaults (mailnews/mailnews.js, mail/app/profile/all-thunderbird.js).
const PREFS = {
  "mailnews.auto_config.fetchFromISP.enabled": true,
  "mailnews.auto_config.fetchFromISP.sendEmailAddress": true,
  "mailnews.auto_config.fetchFromISP.sslOnly": false,
  "mailnews.auto_config.fetchFromExchange.enabled": true,
  "mail.graph.enabled": false,
};

globalThis.Services = {
  prefs: {
    getBoolPref(name, fallback) {
      if (name in PREFS) {
        return PREFS[name];
      }
      if (fallback !== undefined) {
        return fallback;
      }
      throw new Error(`no default for the pref ${name} in gecko.js`);
    },
  },
  io: {
    newURI(spec) {
      const url = new URL(spec);
      return {
        spec: url.href,
        scheme: url.protocol.slice(0, -1),
        host: url.hostname,
        QueryInterface() {
          return this;
        },
      };
    },
  },
};

// mailnews/base/public/MailNewsTypes2.idl
globalThis.Ci = {
  nsMsgSocketType: { plain: 0, alwaysSTARTTLS: 2, SSL: 3 },
  nsMsgAuthMethod: {
    none: 1,
    old: 2,
    passwordCleartext: 3,
    passwordEncrypted: 4,
    GSSAPI: 5,
    NTLM: 6,
    External: 7,
    secure: 8,
    anything: 9,
    OAuth2: 10,
  },
  nsIURL: {},
};

globalThis.Cu = { isInAutomation: true }; // error messages then carry the bad value

// Message ids stand for the localised strings.
globalThis.Localization = class {
  formatValueSync(id) {
    return id;
  }
  async formatValue(id) {
    return id;
  }
};

globalThis.dump = text => console.log(text);
console.createInstance = () => console;

// Gecko's XMLHttpRequest exposes its network channel; FetchHTTP detaches it from the load group.
Object.defineProperty(XMLHttpRequest.prototype, "channel", {
  get() {
    return {};
  },
});
