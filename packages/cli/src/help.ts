/** The `tally` help texts. Each says usage, flags with defaults, an example, and the exit codes. */

export const VERSION = '0.1.0';

const EXIT_CODES = `Exit codes:
  0    done: the task completed (or keygen wrote the key)
  1    runtime failure: refused by the coordinator, port in use, I/O error
  2    usage or configuration error: the message names the flag or config field
  130  interrupted by Ctrl-C (SIGINT) after a clean shutdown
  143  stopped by SIGTERM after a clean shutdown`;

export const MAIN_HELP = `tally ${VERSION}: federated learning with secure aggregation.
Shops train one shared model on their own data; the coordinator only ever
learns the sum of their updates.

Usage:
  tally <command> [options]

Commands:
  keygen        create a client identity key pair (Ed25519) and print its enrolment entry
  coordinator   run the coordinator of a task (rounds, secure aggregation, checkpoints)
  client        run a client node (one shop): authenticates, trains, joins rounds,
                saves the global model it receives
  forecast      a shop's next days per product from its saved model and its sales export
  export        write a coordinator checkpoint's model as a model folder
  ledger        what this shop's node agreed to, sent and revealed, in plain language
  console-token print the coordinator's console token (and the console's address)
  simulate      the demand-forecast demo: a coordinator and one client node per shop
                on this machine, secure aggregation, then a comparison with baselines

Options:
  -h, --help     show this help; \`tally <command> --help\` for a command
  -V, --version  print the version

${EXIT_CODES}

Try it on one machine: tally simulate (examples/demand-forecast/README.md),
or by hand: examples/quickstart/README.md
`;

export const KEYGEN_HELP = `Usage:
  tally keygen --out FILE [--force] [--name NAME] [--enrol ENROLMENT_FILE]

Creates a fresh Ed25519 identity key pair for one client (shop) and writes it to
FILE as {"publicKey": hex, "secretKey": hex}, readable by its owner only (mode
0600). Keep the file secret: it proves the shop's identity. Give the coordinator
operator the public key (printed), never the file.

Options:
  -o, --out FILE        where to write the key file (required; folders are created)
  -f, --force           replace FILE if it exists (default: refuse, it may hold an enrolled key)
  -n, --name NAME       client name for the enrolment entry (default: FILE's name without .json)
  -e, --enrol FILE      also add the entry to this coordinator enrolment file, with the next
                        free id (created if missing); for setups where you run both sides
  -h, --help            show this help

Example:
  tally keygen --out keys/shop-a.json
  -> prints the public key and a line to paste into the coordinator's enrolment file:
     {"id": 1, "name": "shop-a", "publicKey": "<64 hex characters>"}

${EXIT_CODES}
`;

export const COORDINATOR_HELP = `Usage:
  tally coordinator --config FILE [--verbose] [--exit-on-complete] [--log-format text|json]

Runs one task: waits for enrolled clients, offers rounds, runs secure aggregation,
applies the strategy, checkpoints the model and appends the audit log, until
task.rounds rounds are committed. Every committed model is sent to every
connected client; at the end the final model is written to
<dataDir>/<task.id>/final-model/ (TF.js format for a declared "demand" model,
else the tally-weights format; see tally export --help). Stop with Ctrl-C; a
restart resumes from the last checkpoint.

The operator console (read-only) is served on the same port at / and needs the
console token from <dataDir>/console-token (mode 0600); the address with the token
is printed on stdout at start (tally console-token prints it again). It keeps
serving after the last round until Ctrl-C. GET /status and GET /metrics
(Prometheus) need the same token: Authorization: Bearer <token>.

Options:
  -c, --config FILE     coordinator config, JSON with comments (required; relative paths in it are
                        relative to the file)
  -v, --verbose         also log debug lines
      --exit-on-complete
                        exit once the last round is committed (for scripts); default:
                        keep the console up until Ctrl-C
      --log-format FMT  text (default: one readable line per event) or json (one
                        pino JSON object per line, for log collectors)
  -h, --help            show this help

Example config (defaults in comments; see packages/coordinator/src/config.ts):
  {
    "listen": { "host": "127.0.0.1", "port": 7800 },     // "tls": {"cert", "key"} for wss
    "dataDir": ".tally-data",                           // checkpoints + audit log
    "enrolment": "enrolment.json",                      // {"clients": [{id, name, publicKey}]}
    "task": {
      "id": "demand-quickstart",
      "model": {                                        // optional: what the model is; clients check it
        "kind": "demand",                               //   the TF.js demand model (trainer.kind "demand")
        "products": ["bread", "milk"],                  //   the catalogue, in column order (required)
        "holidays": ["01-01", "12-25"],                 //   "MM-DD" yearly or "YYYY-MM-DD"; default: 7 fixed days
        "hidden": [32, 16], "seed": 7                   //   MLP widths and init seed (defaults)
      },
      "modelLength": 4,                                 // features + 1 for linear-csv clients; for a
                                                        //   "demand" model leave it out (computed)
      "rounds": 5, "cohortSize": 3, "minClients": 3,
      "dropoutTolerance": 0, "corruptFraction": 0,      // 3 shops: no room for dropouts (defaults 0.1, 0.05)
      "graph": "complete",                              // or "harary" (SecAgg+)
      "deadlines": { "trainMs": 60000, "stageMs": 15000 },
      "quant": { "clipNorm": 10, "weightBound": 1000, "fractionalBits": 12, "metricBound": 100 },
      "metrics": ["loss"],
      "strategy": { "name": "fedavg" }                  // fedavgm, fedadam, fedyogi, fedadagrad
    }
  }

${EXIT_CODES}
`;

export const CLIENT_HELP = `Usage:
  tally client --config FILE [--verbose] [--log-format text|json]

Runs one client node (a shop): connects to the coordinator, proves its identity
with its key file, and for each round offered checks its own policy, trains on
its local data, and takes part in secure aggregation. Its data never leaves the
machine; only a masked update does. Each committed global model it receives is
saved in modelDir (the final one when the task completes); with a demand task's
final model the shop also chooses its own (the shared model, one fine-tuned on its
sales, one trained on its sales alone, or a blend), on its latest days of sales,
which it held out of training. Before training it
checks the task's model declaration against its trainer and stops with a message
saying which side to change if they do not fit. Reconnects by itself
(exponential backoff); stops when the coordinator ends the task, or on Ctrl-C.

Options:
  -c, --config FILE     client config, JSON with comments (required; relative paths in it are
                        relative to the file)
  -v, --verbose         also log debug lines (each secagg step)
      --log-format FMT  text (default) or json (one pino JSON object per line)

The node keeps a privacy ledger in its state folder ("stateDir" in the config;
default .tally-state/<config file name> beside the config): every offer, what it
accepted and why, what it sent (sizes and digests, never values), which shares it
revealed. Read it with tally ledger --config FILE.
  -h, --help            show this help

Example config:
  {
    "coordinator": "ws://127.0.0.1:7800",        // ws:// or wss:// ("ca": "ca.pem" to trust a private CA)
    "keyFile": "keys/shop-a.json",               // from tally keygen
    "peers": "enrolment.json",                   // the operator's enrolment list: every round's roster
                                                 //   must be enrolled shops with their keys (SECURITY.md)
    "policy": {                                  // this shop's consent; offers outside it are refused
      "tasks": ["demand-quickstart"],            //   task ids it trains for
      "minCohort": 3,                            //   smallest cohort it hides in
      "minThreshold": 2,                         //   smallest Shamir threshold
      "maxRounds": 100,                          //   most rounds it contributes to
      "allowPassive": false                      //   refuse rounds without signatures/consistency check
    },
    "reconnect": { "initialMs": 500, "maxMs": 30000 },   // optional; these are the defaults
    "modelDir": "model/shop-a",                  // optional: where received models are saved
    "trainer": {
      "kind": "demand",                          // the TF.js demand model; the task names the products
      "sales": "data/shop-a.csv",                // the till's sales export, header row
      "columns": { "date": "date", "product": "product", "units": "units",
                   "price": "price", "promo": "promo" },   // header names; price, promo optional
      "delimiter": "auto",                       // or "," ";" "\t" "|"
      "dateFormat": "auto",                      // YYYY-MM-DD or DD.MM.YYYY; or "DD/MM/YYYY", "MM/DD/YYYY"
      "epochs": 2, "batchSize": 64, "learningRate": 0.002   // optional; these are the defaults
    }
  }
  or "trainer": {"kind": "linear-csv", "data": "shop.csv", "target": "demand",
                 "epochs": 5, "lr": 0.05, "batchSize": 32}  (numeric CSV, least squares)

Lines of the sales export that cannot be used (bad dates or numbers, products
the task does not list) and days without any sales are logged as warnings with
their line numbers; the model folder's normalisation.json holds this shop's own
scale per product (it never leaves the shop; tally forecast needs it).

${EXIT_CODES}
`;

export const LEDGER_HELP = `Usage:
  tally ledger --config FILE [--json] [--serve [--port N]]

Reads this shop's privacy ledger (<stateDir>/ledger.jsonl, kept by tally client)
and says in plain language what the node agreed to and what left the machine:
offers accepted and refused (by which policy rule), masked updates sent (sizes and
SHA-256 digests, never values), how many shops each sum covered, and which secret
shares it revealed (never both of one shop).

Options:
  -c, --config FILE     the shop's client config (required; its stateDir locates the ledger)
      --json            the summary and every round as one JSON object on stdout
      --serve           serve the same as a page on 127.0.0.1 (this machine only) until Ctrl-C
      --port N          port for --serve (default: a free one)
  -h, --help            show this help

Example:
  tally ledger --config examples/quickstart/shop-a.json

${EXIT_CODES}
`;

export const CONSOLE_TOKEN_HELP = `Usage:
  tally console-token --config FILE

Prints the coordinator's console token (one line on stdout) and, on stderr, the
console's address with the token after # (browsers never send that part to a
server, so it stays out of access logs). The token lives in <dataDir>/console-token,
mode 0600, and is made here if the coordinator has not made it yet. It opens the
console, GET /status and GET /metrics (Authorization: Bearer <token>).

Options:
  -c, --config FILE     the coordinator config (required; its dataDir holds the token)
  -h, --help            show this help

${EXIT_CODES}
`;

export const SIMULATE_HELP = `Usage:
  tally simulate [--shops N] [--rounds N] [--graph complete|harary]
                 [--dropout P [--dropout-stage STAGE]] [--seed N]
                 [--dp-epsilon E [--dp-delta D]] [--out DIR] [--json]

The demand-forecast demo in one command. Generates the shops' synthetic sales,
starts a real coordinator on 127.0.0.1 (a free port) and one real client node per
shop over loopback WebSockets, and trains the shared model with secure aggregation
(active-adversary mode) and FedAvg weighted by the masked sample counts. Each
round's securely aggregated update is checked against the plaintext weighted
average of the same updates. Then it trains the local-only and centralised
baselines and prints each shop's error for the four models (federated, local
only, seasonal naive, centralised) and whether the targets hold: federated median
WAPE below local-only and seasonal naive, and within 10% of centralised.

Options:
      --shops N         shops, one client node each, at most 64 (default 16; fewer
                        than 7 leave no safe secure-aggregation threshold)
      --rounds N        committed federated rounds, 1-1000 (default 15)
      --graph KIND      secure aggregation graph: complete (SecAgg) or harary
                        (SecAgg+) (default complete)
      --dropout P       each round, each shop independently drops out with
                        probability P, 0 <= P < 1 (default 0: none); a dropped node
                        is closed as the stage opens and restarted for the next round
      --dropout-stage STAGE
                        where shops drop: AdvertiseKeys, ShareKeys, MaskedInput,
                        ConsistencyCheck or Unmask (default MaskedInput)
      --seed N          seed of the data and of the dropout draws (default 1)
      --dp-epsilon E    distributed differential privacy: each shop adds its share
                        of discrete Gaussian noise so that all rounds together are
                        (E, D)-DP at the shop level (the task fixes its threshold,
                        sums no metrics, weighs shops equally; each shop's
                        policy.maxEpsilon is 2E); prints the ε spent at the end
      --dp-delta D      δ of --dp-epsilon, 0 < D < 1 (default 1e-6)
  -o, --out DIR         report folder: report.md, report.json, loss.svg, forecast.svg,
                        model/, audit.jsonl (default results/demand-forecast)
      --json            JSON lines on stdout: {"type":"round",...} per round attempt
                        (cohort, survivors, drops with stage and reason, metrics, the
                        secure-vs-plaintext difference), then {"type":"summary",...}
                        (evaluation table, medians, targets); logs go to stderr
  -v, --verbose         also print the coordinator's and the nodes' log lines (stderr)
  -h, --help            show this help

At start it prints the coordinator's console address with its token
(console: http://127.0.0.1:PORT/ ... open http://127.0.0.1:PORT/#token=...): open it
to watch the rounds live. simulate exits when the run is over (the console with it).

Progress, one line per round attempt:
  round 3/15: 16/16 survivors, loss 0.240 → 0.222, 19.9 s elapsed
  (loss: the securely aggregated training MSE of the global model → after local training)

Examples:
  tally simulate                                  # defaults: about 2 minutes on 2 cores
  tally simulate --shops 8 --rounds 5 --dropout 0.2 --dropout-stage ShareKeys --json

${EXIT_CODES}
`;

export const FORECAST_HELP = `Usage:
  tally forecast --model DIR --sales FILE [--days N] [--out FILE] [--svg FILE]

Forecasts this shop's units per product for the N days after the last day of its
sales export, with the demand model its client saved in DIR (the client config's
modelDir): the shop's own choice made when the task ended (personal.json) when it
belongs to the saved global model, otherwise the shared model; the first line says
which. The shop's own normalisation is saved beside it. Each day is
predicted from the days before it (forecasts feed the later days' lags); future
prices are the last known ones and no promotions are assumed. Products the shop
has never sold are left out. Runs entirely on the shop's machine.

Prints a table (one row per day, one column per product) on stdout, writes the
forecast as CSV (date,product,units) and an SVG chart of the last 28 days of
sales and the forecast, one panel per product.

Options:
  -m, --model DIR       the shop's model folder (model.json, weights.bin, spec.json,
                        normalisation.json), written by tally client (required)
  -s, --sales FILE      the shop's sales export, the same layout as in training (required)
  -d, --days N          days to forecast, 1 to 366 (default 7)
  -o, --out FILE        the CSV to write (default forecast.csv)
      --svg FILE        the chart to write (default: --out with .svg for .csv)
  -h, --help            show this help

Example:
  tally forecast --model examples/quickstart/model/shop-a --sales examples/quickstart/data/shop-a.csv --days 7
  -> date        bread  milk  ...
     2025-07-01   41.3  22.0  ...
     (and forecast.csv, forecast.svg)

${EXIT_CODES}
`;

export const EXPORT_HELP = `Usage:
  tally export --config FILE --out DIR

Writes the model of the coordinator's latest checkpoint (in <dataDir>/<task.id>/)
to DIR as a model folder: for a task declaring a "demand" model, the TF.js layers
format (model.json + weights.bin, loadable with tf.loadLayersModel) plus spec.json;
otherwise the tally-weights format:
  model.json   {"format": "tally-weights/1", "taskId", "round", "final", "modelLength",
                "weights": "weights.bin", "dtype": "float32-le", "sha256"}
  weights.bin  modelLength little-endian float32 values
The coordinator writes its final model the same way, to <dataDir>/<task.id>/final-model/.
A shop's folder needs its own normalisation.json too before tally forecast can use it:
shops get theirs from tally client (modelDir).

Options:
  -c, --config FILE     the coordinator config (required)
  -o, --out DIR         the folder to write (required; created if missing)
  -h, --help            show this help

Example:
  tally export --config examples/quickstart/coordinator.json --out model-round-5

${EXIT_CODES}
`;
