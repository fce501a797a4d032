// Ours, not Thunderbird's: stand-ins for the modules that would reach the outside world. The
// paths under test (a host with its own autoconfig and autodiscover, password login) touch
// only what is here.

const setTimeout = globalThis.setTimeout.bind(globalThis);
const clearTimeout = globalThis.clearTimeout.bind(globalThis);
export { setTimeout, clearTimeout };

export const DNS = {
  // No SRV or MX records: the autoconfig and autodiscover answers come over HTTP only.
  async srv(name) {
    throw new Error(`no DNS here (asked for ${name})`);
  },
  async mx(name) {
    throw new Error(`no DNS here (asked for ${name})`);
  },
};

// No OAuth2 provider is known for the test host, as in Thunderbird for a self-hosted one.
export class OAuth2Module {
  initFromHostname() {
    return false;
  }
}

export const OAuth2Providers = {
  getHostnameDetails() {
    return undefined;
  },
};

export const MailStringUtils = {
  stringToByteString(text) {
    return unescape(encodeURIComponent(text));
  },
};

const unused = name =>
  new Proxy(
    {},
    {
      get(_, property) {
        throw new Error(`${name}.${String(property)} is not part of the paths under test`);
      },
    }
  );

export const GuessConfig = unused("GuessConfig");
export const AddonManager = unused("AddonManager");
