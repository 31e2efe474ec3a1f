// Microsoft's @azure/identity credentials and the Kiota-based Graph SDK against the emulator.
// argv: base tenant clientId secret certPemFile deviceClientId
import { ClientSecretCredential, ClientCertificateCredential, DeviceCodeCredential,
  ManagedIdentityCredential } from '@azure/identity';
import { AzureIdentityAuthenticationProvider } from '@microsoft/kiota-authentication-azure';
import { GraphRequestAdapter } from '@microsoft/msgraph-sdk';
import { createWindowsAutopilotDeviceIdentityCollectionResponseFromDiscriminatorValue,
  createWindowsAutopilotDeviceIdentityFromDiscriminatorValue } from '@microsoft/msgraph-sdk/models/index.js';
import { createODataErrorFromDiscriminatorValue } from '@microsoft/msgraph-sdk/models/oDataErrors/index.js';
import { RequestInformation, HttpMethod } from '@microsoft/kiota-abstractions';

const [base, tenant, clientId, secret, certFile, which] = process.argv.slice(2);
const SCOPE = 'https://graph.microsoft.com/.default';
const common = { authorityHost: base, disableInstanceDiscovery: true };
const out = {};

function credential() {
  if (which === 'secret') return new ClientSecretCredential(tenant, clientId, secret, common);
  if (which === 'certificate') return new ClientCertificateCredential(tenant, clientId, { certificatePath: certFile }, common);
  if (which === 'device_code') {
    return new DeviceCodeCredential({ tenantId: tenant, clientId, ...common,
      userPromptCallback: (info) => { out.user_code = info.userCode; out.verification_uri = info.verificationUri; } });
  }
  return new ManagedIdentityCredential();
}

const PATH = '{+baseurl}/deviceManagement/windowsAutopilotDeviceIdentities';
const errors = { XXX: createODataErrorFromDiscriminatorValue };
function info(method, template, params = {}) {
  const ri = new RequestInformation(method, template);
  ri.pathParameters = { ...params };
  ri.headers.tryAdd('Accept', 'application/json');
  return ri;
}

(async () => {
  const cred = credential();
  const tok = await cred.getToken(SCOPE);
  out.token = tok && typeof tok.token === 'string' && tok.token.split('.').length === 3;
  if (which !== 'secret') { console.log(JSON.stringify(out)); return; }
  const host = new URL(base).hostname;
  const auth = new AzureIdentityAuthenticationProvider(cred, [SCOPE], undefined, new Set([host]));
  const adapter = new GraphRequestAdapter(auth);
  adapter.baseUrl = `${base}/v1.0`;
  const list = await adapter.send(info(HttpMethod.GET, `${PATH}{?%24top}`, { '%24top': 5 }),
    createWindowsAutopilotDeviceIdentityCollectionResponseFromDiscriminatorValue, errors);
  out.page = list.value.length;
  out.next = typeof list.odataNextLink === 'string';
  out.first_serial = list.value[0].serialNumber;
  out.enrollment_state = list.value[0].enrollmentState;
  const cri = info(HttpMethod.GET, `${PATH}/$count`);
  cri.headers.add('Accept', 'text/plain');
  out.count = await adapter.sendPrimitive(cri, 'number', errors);
  const target = list.value.find((d) => d.userPrincipalName);
  await adapter.sendNoResponseContent(info(HttpMethod.POST, `${PATH}/{id}/unassignUserFromDevice`, { id: target.id }),
    errors);
  const after = await adapter.send(info(HttpMethod.GET, `${PATH}/{id}`, { id: target.id }),
    createWindowsAutopilotDeviceIdentityFromDiscriminatorValue, errors);
  out.unassigned = target.id;
  out.after_upn = after.userPrincipalName;
  try {
    await adapter.sendNoResponseContent(info(HttpMethod.POST, `${PATH}/{id}/unassignUserFromDevice`,
      { id: '00000000-0000-4000-8000-000000000000' }), errors);
    out.error = 'none';
  } catch (e) {
    const main = e.errorEscaped || {};
    out.error = { status: e.responseStatusCode, code: main.code, message: main.message || e.message || '' };
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e && (e.stack || JSON.stringify(e))); process.exit(1); });
