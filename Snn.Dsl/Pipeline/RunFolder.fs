/// The folder of one run: step records, artifacts and training checkpoints, each written
/// atomically and with its SHA-256, so that running the same experiment again resumes where it
/// stopped, never redoes finished work, and never loads a damaged file without saying so. An OS
/// lock on the folder keeps a second run out while one is running.
namespace Snn.Dsl.Pipeline

open System
open System.Diagnostics
open System.IO
open System.Security.Cryptography
open System.Text.Json
open System.Text.Json.Nodes
open Snn.Core.Checkpoints

/// The run folder is in use by another run (the message names its process and start time).
type RunFolderLockedException(message: string) =
    inherit IOException(message)

module Hash =

    /// SHA-256 of bytes as lowercase hex.
    let bytes (b: byte[]) =
        Convert.ToHexString(SHA256.HashData b).ToLowerInvariant()

    /// SHA-256 of a string's UTF-8 bytes.
    let text (s: string) = bytes (Text.Encoding.UTF8.GetBytes s)

    /// SHA-256 of a file's bytes.
    let file (path: string) =
        use s = File.OpenRead path
        Convert.ToHexString(SHA256.HashData s).ToLowerInvariant()

module internal FileLock =

    /// Whether an exclusive open failed because another process holds the file (a sharing
    /// violation: EWOULDBLOCK from flock on Linux (11) and macOS (35), ERROR_SHARING_VIOLATION or
    /// ERROR_LOCK_VIOLATION on Windows) rather than for another reason (a read-only file system).
    let heldByOther (e: IOException) =
        List.contains e.HResult [ 11; 35; int 0x80070020u; int 0x80070021u ]

/// The run folder at `root`: created if missing, locked for the lifetime of the value.
type RunFolder(root: string) =
    let full = Path.GetFullPath root

    let fail (what: string) (e: exn) : 'a =
        raise (IOException($"{full}: cannot {what} ({e.Message}); choose another output folder (--out)", e))

    do
        if File.Exists full then
            raise (IOException($"{full}: is a file, not a folder; choose another output folder (--out)"))

        try
            for sub in [ ""; "steps"; "artifacts"; "checkpoints" ] do
                Directory.CreateDirectory(Path.Combine(full, sub)) |> ignore
        with
        | :? IOException as e -> fail "create the run folder" e
        | :? UnauthorizedAccessException as e -> fail "create the run folder" e

    let lockPath = Path.Combine(full, ".lock")
    let infoPath = Path.Combine(full, ".lock.info")

    let lockStream =
        try
            new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None)
        with
        | :? UnauthorizedAccessException as e -> fail "write into the run folder" e
        | :? IOException as e when not (FileLock.heldByOther e) -> fail "write into the run folder" e
        | :? IOException ->
            let holder =
                try
                    File.ReadAllText(infoPath).Trim()
                with _ ->
                    "another process"

            raise (
                RunFolderLockedException(
                    $"{full}: the run folder is in use by {holder}; wait for that run to end or choose another output folder (--out)"
                )
            )

    do
        let started = DateTime.Now.ToString("yyyy-MM-dd HH:mm:ss")

        try
            File.WriteAllText(infoPath, $"process {Environment.ProcessId} (started {started})")
        with
        | :? IOException as e -> fail "write into the run folder" e
        | :? UnauthorizedAccessException as e -> fail "write into the run folder" e

        // Temporary files of a killed or failed write: nobody else writes here while we hold the lock.
        for f in
            Directory.EnumerateFiles(full, "*.tmp", SearchOption.AllDirectories)
            |> Array.ofSeq do
            File.Delete f

    member _.Root = full
    member _.Steps = Path.Combine(full, "steps")
    member _.Artifacts = Path.Combine(full, "artifacts")
    member _.Checkpoints = Path.Combine(full, "checkpoints")

    /// Writes `write` to `path` atomically (Snn.Core AtomicFile: a temporary file, flushed, then
    /// renamed over the target; removed when the write fails); a failure names the path. Returns
    /// the file's SHA-256.
    member _.WriteAtomic(path: string, write: Stream -> unit) =
        try
            AtomicFile.Write(path, (fun s -> write s))
            Hash.file path
        with
        | :? IOException
        | :? UnauthorizedAccessException as e ->
            raise (
                IOException(
                    $"{path}: cannot write ({e.Message}); the records of finished steps are kept, so the run resumes from them once the problem is fixed",
                    e
                )
            )

    /// Writes text to a file of the run folder atomically.
    member this.WriteText(name: string, text: string) =
        let b = Text.Encoding.UTF8.GetBytes text

        this.WriteAtomic(Path.Combine(full, name), (fun s -> s.Write(b, 0, b.Length)))
        |> ignore

    /// Writes a JSON record with its SHA-256: {"sha256": ..., "body": ...}.
    member this.WriteRecord(path: string, body: JsonNode) =
        let text = body.ToJsonString(JsonSerializerOptions(WriteIndented = true))
        let o = JsonObject()
        o["sha256"] <- JsonValue.Create(Hash.text text)
        o["body"] <- JsonNode.Parse text

        this.WriteAtomic(
            path,
            fun s ->
                let b =
                    Text.Encoding.UTF8.GetBytes(o.ToJsonString(JsonSerializerOptions(WriteIndented = true)))

                s.Write(b, 0, b.Length)
        )
        |> ignore

    /// Reads a record written by WriteRecord, checking its hash (see RunFolder.ReadRecordFile).
    member _.ReadRecord(path: string) : JsonNode = RunFolder.ReadRecordFile path

    /// Reads a record written by WriteRecord, checking its hash; a damaged record is an error
    /// that names the file and what to do. Needs no lock (for readers of finished runs).
    static member ReadRecordFile(path: string) : JsonNode =
        let damaged (found: string) =
            InvalidDataException(
                $"{path}: a damaged record: expected a JSON object with \"sha256\" and \"body\" whose hash matches, found {found}; delete it to recompute that step"
            )

        let node =
            try
                JsonNode.Parse(File.ReadAllText path)
            with :? JsonException as e ->
                raise (damaged $"text that is not JSON ({e.Message})")

        match node with
        | :? JsonObject as o when o.ContainsKey "sha256" && o.ContainsKey "body" && not (isNull o["body"]) ->
            let body = o["body"]
            let text = body.ToJsonString(JsonSerializerOptions(WriteIndented = true))
            let expected = o["sha256"].GetValue<string>()
            let found = Hash.text text

            if found <> expected then
                raise (damaged $"content whose SHA-256 is {found}, not the recorded {expected}")

            body
        | _ -> raise (damaged "no hash or no body")

    /// Records which data the run folder's steps were made from (data.json: the dataset, its
    /// folder and its identity digest, DatasetIdentity), or, when an earlier run recorded other
    /// data, refuses it naming both: the folder's finished steps belong to that data, and mixing
    /// two datasets' results in one folder would leave a report that describes neither.
    member this.ClaimData(dataset: string, dataFolder: string, digest: string) =
        let path = Path.Combine(full, "data.json")

        if File.Exists path then
            let before = this.ReadRecord path
            let text (key: string) = before[key].GetValue<string>()
            let oldDataset, oldFolder, oldDigest = text "dataset", text "folder", text "digest"

            if oldDigest <> digest then
                raise (
                    ArgumentException(
                        $"{full}: this run folder holds a run on {oldDataset} from {oldFolder} (data identity {oldDigest}), "
                        + $"but this run reads {dataset} from {dataFolder} (data identity {digest}); "
                        + $"give the same data (--data {oldFolder}) or another output folder (--out) for this data",
                        "data"
                    )
                )

        let o = JsonObject()
        o["dataset"] <- JsonValue.Create dataset
        o["folder"] <- JsonValue.Create dataFolder
        o["digest"] <- JsonValue.Create digest
        this.WriteRecord(path, o)

    interface IDisposable with
        member _.Dispose() =
            (try
                File.Delete infoPath
             with _ ->
                 ())

            lockStream.Dispose()
