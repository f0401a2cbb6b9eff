/// What the CLI tests share: the built `snn` run as a child process, temp folders, and a tiny
/// IDX dataset written in its exact on-disk format.
module Snn.Cli.Tests.Common

open System
open System.Diagnostics
open System.IO
open System.IO.Compression
open Expecto

/// The repository root: the first folder above the test assembly that holds Research.sln.
let repoRoot =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then
            failwithf "Research.sln not found above %s" AppContext.BaseDirectory
        elif File.Exists(Path.Combine(dir.FullName, "Research.sln")) then
            dir.FullName
        else
            up dir.Parent

    up (DirectoryInfo AppContext.BaseDirectory)

/// The `snn` CLI built beside the tests, in the tests' own configuration first.
let snnDll =
    lazy
        (let own =
            if AppContext.BaseDirectory.Contains "/Debug/" then
                [ "Debug"; "Release" ]
            else
                [ "Release"; "Debug" ]

         own
         |> List.map (fun c -> Path.Combine(repoRoot, "Snn.Cli", "bin", c, "net10.0", "snn.dll"))
         |> List.tryFind File.Exists
         |> Option.defaultWith (fun () ->
             failtestf "snn.dll not found under %s/Snn.Cli/bin: build the solution first" repoRoot))

/// What a finished `snn` printed and its exit code.
type SnnResult =
    { ExitCode: int
      Stdout: string
      Stderr: string }

    /// The last non-empty line of stderr: the boundary's `snn:` message.
    member r.LastErrorLine =
        r.Stderr.Replace("\r\n", "\n").Split('\n')
        |> Array.filter (fun l -> l.Trim() <> "")
        |> Array.tryLast
        |> Option.defaultValue ""

    /// Everything printed, for failure messages.
    member r.Show =
        $"exit code {r.ExitCode}\n--- stdout:\n{r.Stdout}\n--- stderr:\n{r.Stderr}"

/// Runs `dotnet snn.dll <args>` in `workDir` with the environment variables `env` set and
/// without SNN_DEBUG unless `env` sets it (so that only --verbose asks for stack traces); waits
/// for it (at most 10 minutes: the cores may be shared).
let runSnnWith (env: (string * string) list) (workDir: string) (args: string list) : SnnResult =
    let info = ProcessStartInfo("dotnet")
    info.ArgumentList.Add snnDll.Value

    for a in args do
        info.ArgumentList.Add a

    info.WorkingDirectory <- workDir
    info.UseShellExecute <- false
    info.RedirectStandardOutput <- true
    info.RedirectStandardError <- true
    info.Environment.Remove "SNN_DEBUG" |> ignore

    for name, value in env do
        info.Environment[name] <- value

    use p = Process.Start info
    let stdout = p.StandardOutput.ReadToEndAsync()
    let stderr = p.StandardError.ReadToEndAsync()

    if not (p.WaitForExit(TimeSpan.FromMinutes 10.0)) then
        p.Kill true
        failtestf "snn %s did not end within 10 minutes" (String.Join(" ", args))

    p.WaitForExit()

    { ExitCode = p.ExitCode
      Stdout = stdout.Result
      Stderr = stderr.Result }

/// Runs `snn <args>` in the temp folder.
let runSnn (args: string list) = runSnnWith [] (Path.GetTempPath()) args

/// A fresh temp folder, deleted on Dispose.
type TempFolder() =
    let path =
        Path.Combine(Path.GetTempPath(), "snn-cli-tests", Guid.NewGuid().ToString("N"))

    do Directory.CreateDirectory path |> ignore
    member _.Path = path
    member _.File(name: string) = Path.Combine(path, name)

    interface IDisposable with
        member _.Dispose() =
            try
                Directory.Delete(path, true)
            with _ ->
                ()

let private bigEndian (v: int) =
    [| byte (v >>> 24); byte (v >>> 16); byte (v >>> 8); byte v |]

let private gzip (bytes: byte[]) =
    use output = new MemoryStream()

    do
        use z = new GZipStream(output, CompressionLevel.Fastest, true)
        z.Write(bytes, 0, bytes.Length)

    output.ToArray()

/// Side of the test images in pixels (as Fashion-MNIST's).
[<Literal>]
let ImageSide = 28

/// The label of image i of a split: i mod 10, so that every class has the same count.
let labelOf (i: int) = i % 10

/// The value of every pixel of an image with label k: 20 k, so that the pixel mean is known.
let pixelOf (label: int) = byte (20 * label)

/// Writes the four IDX files (raw or gzipped) of a dataset with `nTrain` training and `nTest`
/// test images of 28 x 28 into `folder`.
let writeIdx (folder: string) (gz: bool) (nTrain: int) (nTest: int) =
    let write (name: string) (bytes: byte[]) =
        let path = Path.Combine(folder, (if gz then name + ".gz" else name))
        File.WriteAllBytes(path, (if gz then gzip bytes else bytes))

    for prefix, n in [ "train", nTrain; "t10k", nTest ] do
        let pixels =
            Array.init (n * ImageSide * ImageSide) (fun j -> pixelOf (labelOf (j / (ImageSide * ImageSide))))

        write
            $"{prefix}-images-idx3-ubyte"
            (Array.concat
                [ bigEndian 0x803
                  bigEndian n
                  bigEndian ImageSide
                  bigEndian ImageSide
                  pixels ])

        write
            $"{prefix}-labels-idx1-ubyte"
            (Array.concat [ bigEndian 0x801; bigEndian n; Array.init n (labelOf >> byte) ])

/// True when the text holds a .NET stack trace line ("   at Namespace.Type.Method(...)").
let hasStackTrace (text: string) =
    text.Replace("\r\n", "\n").Split('\n')
    |> Array.exists (fun l -> l.TrimStart().StartsWith "at " && l.Contains "(" && l.StartsWith "   ")
