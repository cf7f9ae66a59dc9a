// Reads {"verify": [...], "decode": [...], "generate": [...]} on stdin, answers what the NBC SDK says, as JSON.
const { BakongKHQR, khqrData, IndividualInfo, MerchantInfo } = require("bakong-khqr");

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const job = JSON.parse(input);
  const out = {
    verify: (job.verify || []).map((qr) => BakongKHQR.verify(qr).isValid),
    decode: (job.decode || []).map((qr) => BakongKHQR.decode(qr)),
    generate: (job.generate || []).map((spec) => {
      const optional = { ...spec.optional, currency: khqrData.currency[spec.currency] };
      const khqr = new BakongKHQR();
      return spec.kind === "merchant"
        ? khqr.generateMerchant(new MerchantInfo(spec.account, spec.name, spec.city, spec.merchantId, spec.bank, optional))
        : khqr.generateIndividual(new IndividualInfo(spec.account, spec.name, spec.city, optional));
    }),
  };
  process.stdout.write(JSON.stringify(out));
});
