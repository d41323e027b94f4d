/** What `--help` says; kept true to what the commands and config.ts do. */

export const mainHelp = `threadbook: answers questions about data by writing and running Python in a sandboxed notebook session.

Usage:
  threadbook [start]                 Run the bot on Slack (SLACK_BOT_TOKEN set) and Discord (DISCORD_TOKEN set);
                                     with no chat platform set, the local chat.
  threadbook ask "<question>" [...]  Ask one question; prints the answer (or JSON with --json).
  threadbook chat [--jsonl]          Chat in the terminal, or answer one JSON request per line.
  threadbook discord register [--guild ID]
                                     Register the Discord commands (/ask, /reset, /stop, /help, /export, Ask threadbook).
  threadbook skills <action> [...]   The skill library: list, show, import, export, approve, reject, remove.
  threadbook export CONVERSATION [--out FILE]
                                     Write a conversation as a Jupyter notebook (.ipynb).
  threadbook usage [--since 7d] [--by user|workspace|conversation|day] [--json]
                                     Model tokens (and cost, with THREADBOOK_MODEL_PRICES) from the ledger.
  threadbook audit [--since 24h] [--user ID] [--conversation KEY] [--json]
                                     Who ran what: one record per cell run, from the database.
  threadbook sessions [stop|reset KEY]
                                     The running bot's live sessions; stop or reset one.
  threadbook <command> --help        Options of a command.
  threadbook -V, --version           The version.

Relative paths (--file, --out, /file, "files") are taken from the directory you run threadbook in.

Settings (environment variables; ./threadbook, npm start and npx threadbook also read a .env file in the
project directory, where the environment wins; an empty value counts as unset, and an unknown
THREADBOOK_*, SLACK_* or DISCORD_* variable draws a warning):
  OPENAI_API_KEY                 API key of the model service (not needed for a local server)
  OPENAI_BASE_URL                OpenAI-compatible endpoint, e.g. http://localhost:11434/v1
  THREADBOOK_MODEL               model name                                        [gpt-5.1]
  THREADBOOK_MODEL_API           responses | chat (Chat Completions)               [responses]
  THREADBOOK_MODEL_STREAM        stream model answers as the model writes them     [true]
  THREADBOOK_MODEL_IMAGES        show figures to the model as images               [true]
  THREADBOOK_MODEL_TIMEOUT_S     seconds to wait for one model answer              [120]
  THREADBOOK_MODEL_MAX_RETRIES   retries of a failed model request (a 429 is       [2]
                                 retried by the turn instead, after the server's Retry-After,
                                 within THREADBOOK_TURN_TIMEOUT_S)
  THREADBOOK_MODEL_REASONING_EFFORT  none | minimal | low | medium | high | xhigh | max:
                                 reasoning.effort (Responses) or reasoning_effort
                                 (Chat); unset sends nothing                       [unset]
  THREADBOOK_MODEL_VERBOSITY     low | medium | high: text.verbosity (Responses);  [unset]
                                 unset sends nothing
  THREADBOOK_MODEL_PRICES        price per million tokens, input/cached input/output, [unset]
                                 e.g. 1.25/0.125/10, or per model: gpt-5.1=1.25/0.125/10,
                                 gpt-5-mini=0.25/0.025/2 (*= for the rest); unset: tokens only
  THREADBOOK_USER_TOKENS_PER_DAY one user's model tokens per UTC day (0: no budget) [0]
  THREADBOOK_WORKSPACE_TOKENS_PER_DAY  one Slack team's or Discord guild's model   [0]
                                 tokens per UTC day (0: no budget)
  THREADBOOK_DATA_DIR            database and log directory; a relative one is in  [./data]
                                 the project's folder, wherever threadbook runs
  THREADBOOK_DATABASE_URL        postgres://user:password@host/db: the state in     [unset]
                                 Postgres, shared by several replicas of the bot;
                                 unset: SQLite in THREADBOOK_DATA_DIR
  THREADBOOK_LOG_LEVEL           fatal | error | warn | info | debug | trace | silent [info]
  THREADBOOK_CELL_TIMEOUT_S      seconds one cell may run                          [60]
  THREADBOOK_TURN_MAX_STEPS      model steps per turn (0: no limit)                [24]
  THREADBOOK_TURN_MAX_CELLS      cells per turn (0: no limit)                      [16]
  THREADBOOK_TURN_TIMEOUT_S      seconds per turn                                  [600]
  THREADBOOK_TURN_MAX_TOKENS     model tokens per turn (0: no limit)               [400000]
  THREADBOOK_HISTORY_CHARS       characters of earlier turns sent to the model     [24000]
  THREADBOOK_SHUTDOWN_GRACE_S    on SIGTERM, seconds a bot's whole shutdown takes: [25]
                                 running turns finish until its last fifth (at most
                                 5 s), then are stopped; every adapter posts and
                                 disconnects by its end
  THREADBOOK_ATTACHMENT_RETENTION_DAYS days files users attached are kept (0: for ever) [30]
  THREADBOOK_TRANSCRIPT_RETENTION_DAYS days transcripts and questions are kept (0: for ever) [90]
  THREADBOOK_AUDIT_RETENTION_DAYS days the audit log's cell runs are kept (0: for ever) [365]
  THREADBOOK_METRICS_PORT        a bot's /healthz, /readyz and /metrics (Prometheus) [off]
                                 on this port (0: any, named in the log)
  THREADBOOK_METRICS_HOST        address the metrics port is bound to              [127.0.0.1]
  THREADBOOK_MAX_SESSIONS        live sessions at once; past it the least recently [derived]
                                 used idle one is removed. Default: 75% of memory /
                                 THREADBOOK_SANDBOX_MEMORY_MB, at least 1 (per engine)
  THREADBOOK_MAX_TURNS           turns running at once, each holding a session     [derived]
                                 (also while it waits on the model); at most
                                 THREADBOOK_MAX_SESSIONS. Default: THREADBOOK_MAX_SESSIONS
                                 (times the engines of THREADBOOK_DOCKER_HOSTS)
  THREADBOOK_MAX_CELLS           cells running at once across every session, and   [derived]
                                 sessions starting at once; past it they wait for a
                                 free CPU. Default: the CPUs
  THREADBOOK_MAX_QUEUED          turns waiting for a free slot; past it a new one  [50]
                                 is refused as busy
  THREADBOOK_USER_MAX_TURNS      one user's turns running or waiting at once       [3]
  THREADBOOK_USER_TURNS_PER_HOUR one user's turns per rolling hour (0: no limit)   [60]
  THREADBOOK_MAX_DOWNLOADS       files users gave, downloading at once (once a     [4]
                                 turn is admitted)
  THREADBOOK_INSTANCE            name and label of this bot's containers           [threadbook]
  THREADBOOK_SANDBOX_IMAGE       sandbox image tag                                 [built from sandbox/]
  THREADBOOK_SANDBOX_RUNTIME     container runtime, e.g. runsc for gVisor          [Docker's default]
  THREADBOOK_SANDBOX_MEMORY_MB   memory per session                                [1024]
  THREADBOOK_SANDBOX_CPUS        CPUs per session                                  [1]
  THREADBOOK_SANDBOX_PIDS        processes per session                             [128]
  THREADBOOK_SANDBOX_DISK_MB     working directory size per session                [512]
  THREADBOOK_SNAPSHOT_MB         a conversation's variables kept after each turn, at most;
                                 put back into a new session (0: none kept)        [64]
  THREADBOOK_SANDBOX_FILE_MB     largest file a session may write or receive       [256]
  THREADBOOK_SANDBOX_POOL_SIZE   warm sessions kept ready                          [2]
  THREADBOOK_SANDBOX_IDLE_TTL_S  seconds before an idle session is removed; must   [3600]
                                 exceed THREADBOOK_CELL_TIMEOUT_S + THREADBOOK_MODEL_TIMEOUT_S
  THREADBOOK_OUTPUT_KB           output kept per cell and stream, as head and tail [64]
                                 of about this many ×1024 characters in all (what was
                                 cut is counted in bytes)
  THREADBOOK_REPLY_MAX_FILES     files per reply                                   [20]
  THREADBOOK_REPLY_MAX_FILE_MB   largest file in a reply                           [25]
  SLACK_BOT_TOKEN                the Slack app's bot token (xoxb-…); starts the Slack adapter
  SLACK_APP_TOKEN                app-level token (xapp-…) for Socket Mode, the default
  SLACK_SIGNING_SECRET           HTTP mode instead: Slack's requests are verified with it
  THREADBOOK_HTTP_PORT           HTTP mode's port, path /slack/events (0: any)     [3000]
  SLACK_API_URL                  Slack Web API base                                [Slack's own]
  SLACK_STREAMING                stream replies with task cards                    [true]
  SLACK_ALLOWED_TEAMS            comma-separated ids allowed; empty: everyone (also
  SLACK_ALLOWED_CHANNELS         _CHANNELS and _USERS). A team is checked for the
  SLACK_ALLOWED_USERS            event and the user's own (Slack Connect); with no
                                 list at all, the bot warns at start
  DISCORD_TOKEN                  the Discord bot's token; set, \`start\` runs the Discord bot
  DISCORD_APPLICATION_ID         the Discord application's id (needed with DISCORD_TOKEN)
  DISCORD_API_URL                Discord's REST base; the gateway is looked up there [https://discord.com/api]
  DISCORD_ALLOWED_GUILDS         server ids that may use the bot, comma-separated  [all]
  DISCORD_ALLOWED_CHANNELS       channel ids (a thread counts as its channel)      [all]
  DISCORD_ALLOWED_ROLES          role ids; a user needs one of them                [all]
                                 (with none of the three, the bot warns at start)
  DISCORD_SHARDS                 the gateway shards this replica runs, e.g. 0,1     [the whole bot]
  DISCORD_SHARD_COUNT            shards across every replica (set with DISCORD_SHARDS)
  THREADBOOK_EGRESS_ALLOW        the door out of sessions (off when unset): host    [unset]
                                 names, *.domains, IPs or CIDRs, each with an optional
                                 :port, comma-separated; loopback and private addresses
                                 only where an IP or CIDR names them
  THREADBOOK_EGRESS_ALLOW_<PLATFORM>_<WORKSPACE>  a workspace's own list in place of
                                 the global one, e.g. THREADBOOK_EGRESS_ALLOW_SLACK_T0123
  THREADBOOK_EGRESS_TURN_MB      bytes through the door per turn, both ways        [100]
  THREADBOOK_EGRESS_REQUESTS_PER_MINUTE  requests per session and minute           [120]
  THREADBOOK_EGRESS_CONNECTION_S seconds one connection may stay open              [300]
  THREADBOOK_PIP_INDEX_URL       pip's index in sessions, through a cache in the    [pip's default]
                                 bot (<data dir>/pip-cache); its hosts must be allowed
  THREADBOOK_PACKAGES_MB         size of a session's package directory (memory)   [256]
  THREADBOOK_SKILL_APPROVERS     who may approve a proposed skill: platform user ids, such as
                                 slack:U0123ABCD,discord:123456789012345678 (the CLI always may)
  THREADBOOK_SKILLS_AUTO_APPROVE approve every proposed skill at once (single-user setups) [false]
  DOCKER_HOST                    Docker endpoint: unix:///path/to/docker.sock or plain tcp://host:port
                                 (no TLS, no ssh://)                               [/var/run/docker.sock]
  THREADBOOK_DOCKER_HOSTS        several engines, comma-separated, each as DOCKER_HOST; sessions go
                                 to the one with the most free slots, THREADBOOK_MAX_SESSIONS
                                 on each; in place of DOCKER_HOST when set        [DOCKER_HOST only]

Logs go to <THREADBOOK_DATA_DIR>/threadbook.log; the terminal shows progress and answers only.
Exit codes: 0 answered, 1 failed, 2 bad usage or settings; stopped by a signal: 130 Ctrl-C (SIGINT),
143 SIGTERM, 129 SIGHUP (a closed terminal).
`;

export const askHelp = `Usage: threadbook ask "<question>" [--file PATH]... [--conversation KEY] [--json] [--out DIR]

Runs one turn: the model answers by running Python in a sandboxed session.
Progress goes to stderr; the answer to stdout.

Options:
  -f, --file PATH          Attach a file (repeatable); the code finds it by its name.
  -c, --conversation KEY   Continue (or start) the conversation KEY: later calls with the same
                           KEY see earlier questions, variables and files. Without it the
                           session is removed after the answer.
      --json               Print the reply as JSON:
                           {"text","cells":[{"code","stdout","stderr","value","error","durationMs"}],
                            "files":[{"name","bytes","image","path"}],"filesOmitted","limit","error","conversation",
                            "proposedSkills":[{"id","name","scope","version","description","status"}]}
                           "path" is set when --out wrote the file.
  -o, --out DIR            Write the files the code made into DIR. A file already there is kept:
                           the new one takes a free name (plot-2.png), said on stderr and in "path".
  -h, --help               Show this help.

Exit codes: 0 answered (also when a turn limit cut it short: see "limit"), 1 failed ("error" says why),
2 bad usage or settings (unknown option, missing question, unreadable file, invalid setting),
130 Ctrl-C, 143 SIGTERM, 129 SIGHUP.
`;

export const chatHelp = `Usage: threadbook chat [--jsonl] [--conversation KEY] [--out DIR]

Chats in the terminal. Every message runs one turn in the same session, so variables
and files persist. Progress goes to stderr; answers to stdout.
In the terminal: /file PATH attaches a file to the next message, /reset starts over,
/help lists these, /exit (or Ctrl-D) quits. Ctrl-C while an answer runs stops it (a running
cell is interrupted, its variables kept); Ctrl-C at the prompt, or again at once, quits.

Options:
      --jsonl              Read one request per line from stdin: plain text, or JSON
                           {"text": "...", "files": ["path", ...]}. Write one JSON reply per
                           line to stdout, shaped as \`ask --json\` prints it. A bad line gets a
                           reply whose "error" says why; the next line runs as usual.
                           Control lines are handled as they arrive, also while a turn runs,
                           each answered with one JSON line naming its command:
                             {"command": "stop"}    stops the running turn: {"command":"stop","stopped":true}
                                                    (false when none ran); its reply says "Stopped by you"
                             {"command": "reset"}   stops it and starts over (new session, no earlier
                                                    messages or files): {"command":"reset","reset":true}
                             {"command": "status"}  {"command":"status","running":true,"waiting":0}, waiting
                                                    counting requests read and not yet started
  -c, --conversation KEY   Continue (or start) the conversation KEY. Without it the session
                           is removed when the chat ends.
  -o, --out DIR            Write the files the code made into DIR, never over a file already
                           there (the new one takes a free name, e.g. plot-2.png).
  -h, --help               Show this help.
`;

export const usageHelp = `Usage: threadbook usage [--since SPAN] [--by user|workspace|conversation|day] [--json]

Reads the usage ledger: every model step's input, cached input, output and reasoning tokens, with
its model, conversation, user, workspace and time. Sums them per group and model, with the cost
where THREADBOOK_MODEL_PRICES prices the model (tokens only otherwise).

Options:
  -s, --since SPAN         How far back: 30m, 24h, 7d, 4w.                          [7d]
  -b, --by GROUP           user (platform:id), workspace (platform:team or guild), conversation
                           (its key) or day (UTC).                                 [day]
      --json               One JSON object: {"since","by","rows":[{"<by>","model","turns","steps",
                           "inputTokens","cachedInputTokens","outputTokens","reasoningTokens","cost"}],
                           "total":{…}}; "cost" is null where no price is set.
  -h, --help               Show this help.

Exit status: 0 done, 1 the database failed, 2 bad usage.
`;

export const discordHelp = `Usage: threadbook discord register [--guild ID]

Registers threadbook's Discord commands for the application DISCORD_APPLICATION_ID, with
DISCORD_TOKEN: /ask, /reset, /stop, /help, /export and the message command "Ask threadbook".
Registering again replaces them.

Options:
  -g, --guild ID           Register in this server only: the commands appear at once (for
                           development). Without it they are global, which Discord takes up
                           to an hour to show everywhere.
  -h, --help               Show this help.
`;

export const skillsHelp = `threadbook skills: the skill library (Agent Skills folders: SKILL.md and scripts/*.py).

Usage:
  threadbook skills list [--json]                One record per skill version: name, description, status,
                                                 scope, version, who proposed and decided it, and when.
  threadbook skills show NAME [--scope S]        The skill's newest files and every version.
  threadbook skills import PATH [--scope S]      A skill folder, or a folder of skill folders (such as
                                                 .agents/skills/); imported skills are approved. Scope: global
                                                 (the default), slack:<team> or discord:<guild>.
  threadbook skills export NAME DIR [--scope S]  Writes the skill's folder into DIR.
  threadbook skills approve NAME [--scope S]     Approves the newest proposed version.
  threadbook skills reject NAME [--scope S]      Rejects the newest proposed version.
  threadbook skills remove NAME [--scope S]      Removes every version.

--scope is needed only when the name is in several scopes. Exit status: 0 done, 1 a failure of
Docker or the database, 2 bad input (the reason in one line, naming the rule a skill breaks).
`;

export const exportHelp = `Usage: threadbook export CONVERSATION [--out FILE]

Writes a conversation as a Jupyter notebook (nbformat 4.5): each question as a Markdown cell
saying who asked it and the files they attached, each cell the model ran with its outputs as
Jupyter shows them (printed text, the value, a DataFrame's table, figures, the traceback), and
each answer as a Markdown cell. Every cell is in it, also those the model's history left out;
what came before the conversation's last reset is not. Needs no model and no Docker.

CONVERSATION is a conversation's key as the audit shows it (e.g. slack:T1:C1:1700000000.000100,
discord:123:456), or the KEY given to ask or chat with --conversation.

Options:
  -o, --out FILE           Write the notebook to FILE (replacing it), or to stdout with -.
                           Without it: <title>.ipynb in the current directory, the title taken from
                           the first question; a file already there is kept and the notebook takes
                           a free name (title-2.ipynb).
  -h, --help               Show this help.

Exit codes: 0 written, 1 failed (the database or the file could not be written),
2 bad usage, or no such conversation (nothing is written).
`;

export const auditHelp = `Usage: threadbook audit [--egress] [--since SPAN] [--user ID] [--conversation KEY] [--json]

Who ran what: one record per cell run, oldest first, read from the database (the bot may be
running): when, who (platform user and workspace), which conversation, the code, how it ended
(ok, error, timeout, lost) and how long it ran. A reset conversation's runs are kept.

Options:
      --since SPAN         Runs started within SPAN before now (90s, 30m, 24h, 7d, 2w), since a date
                           (2025-06-01, 2025-06-01T12:00:00Z), or all.                   [24h]
  -u, --user ID            One user's runs: slack:U123, discord:456, cli:name, or the bare id.
  -c, --conversation KEY   One conversation's runs (its key, as 'threadbook sessions' lists it).
      --json               One JSON object per line (JSON Lines), every field and the whole code:
                           {"startedAt","user","workspace","conversation","turn","code","outcome",
                            "durationMs","error"}, startedAt as an ISO 8601 time.
      --egress             The requests through sessions' doors out instead (THREADBOOK_EGRESS_ALLOW):
                           allowed or refused, who, conversation, method, host and port, bytes out
                           and in, time, and why one was refused or cut. --json fields:
                           {"conversationKey","turnId","user","workspace","method","host","port",
                            "address","allowed","reason","bytesOut","bytesIn","startedAt","durationMs"}.
  -h, --help               Show this help.

The table shows each cell's first line of code; control characters in code are shown escaped.
`;

export const sessionsHelp = `Usage: threadbook sessions [list] [--json]
       threadbook sessions stop KEY
       threadbook sessions reset KEY

Asks the running bot (threadbook start, with the same THREADBOOK_DATA_DIR) through its control
socket, <THREADBOOK_DATA_DIR>/control.sock, which only the bot's user can open.

  list                     The live sessions: conversation, Docker host, memory, idle time, session id.
                           --json prints one JSON object per line.
  stop KEY                 Stops the conversation's running turn (its thread is told an operator
                           stopped it) and ends its session; its messages and files stay, and its next
                           question starts a new session.
  reset KEY                As 'reset' in the thread: stops its turn, ends its session and forgets its
                           messages and files.

Exit status: 0 done, 1 no bot answers (or it failed), 2 bad usage or an unknown KEY.
`;
