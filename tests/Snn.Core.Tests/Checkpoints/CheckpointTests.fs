module Snn.Core.Tests.Checkpoints.CheckpointTests

open System
open System.IO
open Expecto
open FsCheck
open TorchSharp
open Snn.Core.Checkpoints
open Snn.Core.Tests
open Snn.Core.Tests.Simulation
open Snn.Core.Tests.TempFolders

/// The header of format SNNCKPT2: 9 bytes of name, 8 of payload length, 32 of SHA-256.
let private headerSize = 49

/// Metadata as a training stage writes it (public, so that System.Text.Json sees its fields).
type Meta = { Stage: string; EpochsDone: int }

let private metadata = { Stage = "clip"; EpochsDone = 2 }

/// A linear model (weights 8 KB, so the middle of a checkpoint is inside them) and its SGD optimizer after one
/// step, so that momentum buffers exist.
let private trainedModel (inputs: int64) =
    let model = torch.nn.Linear(inputs, 32L)
    let optimizer = torch.optim.SGD(model.parameters (), 0.1, momentum = 0.9)
    use x = torch.ones ([| 4L; inputs |])
    use loss = model.forward(x).sum ()
    loss.backward ()
    optimizer.step () |> ignore
    model, optimizer

let private values (t: torch.Tensor) =
    t.detach().contiguous().data<float32>().ToArray()

/// Writes a checkpoint of a fresh model; returns its path.
let private saved (folder: TempFolder) (withOptimizer: bool) =
    let path = folder.File "stage.ckpt"
    let model, optimizer = trainedModel 64L
    use _ = model
    use _ = optimizer
    Checkpoint.Save(path, model, (if withOptimizer then optimizer else null), metadata)
    path

/// The exception f raises, which must be an InvalidDataException.
let private caught (f: unit -> unit) : InvalidDataException =
    try
        f ()
        failtest "expected an InvalidDataException, but nothing was thrown"
    with :? InvalidDataException as e ->
        e

/// Expects the exception of a checkpoint that cannot be used, with every part of the message.
let private expectProblem (problem: CheckpointProblem) (fragments: string list) (path: string) (f: unit -> unit) =
    let e = caught f

    Expect.equal (CheckpointError.ProblemOf e) (Nullable problem) "the kind of problem"
    Expect.equal e.Data.[CheckpointError.PathKey] (box path) "the exception names the file"
    Expect.stringStarts e.Message $"{path}: " "the message starts with the file"
    Expect.stringContains e.Message "expected " "the message says what was expected"
    Expect.stringContains e.Message "found " "the message says what was found"
    Expect.stringContains e.Message "delete it to recompute that step" "the message says what to do"

    for fragment in fragments do
        Expect.stringContains e.Message fragment $"the message states '{fragment}'"

/// Every way to read a damaged file reports the same problem: ReadMetadata, Load and Inspect.
let private expectDamage (problem: CheckpointProblem) (fragments: string list) (path: string) =
    expectProblem problem fragments path (fun () -> Checkpoint.ReadMetadata path |> ignore)
    use model = torch.nn.Linear(64L, 32L)
    let before = values model.weight
    expectProblem problem fragments path (fun () -> Checkpoint.Load(path, model, null) |> ignore)
    Expect.equal (values model.weight) before "nothing was read into the module"
    let inspection = Checkpoint.Inspect path
    Expect.equal inspection.State CheckpointState.Damaged "Inspect says damaged"
    Expect.equal inspection.Problem (Nullable problem) "Inspect carries the same problem"

    Expect.equal
        inspection.Error.Message
        (caught (fun () -> Checkpoint.ReadMetadata path |> ignore)).Message
        "and the same message"

let private overwrite (path: string) (offset: int64) (bytes: byte[]) =
    use stream = new FileStream(path, FileMode.Open, FileAccess.Write)
    stream.Position <- offset
    stream.Write(bytes, 0, bytes.Length)

let private truncate (path: string) (length: int64) =
    use stream = new FileStream(path, FileMode.Open, FileAccess.Write)
    stream.SetLength length

/// The first format, as the toolkit wrote it before content hashes: the name, metadata, flag, module state.
let private writeOldFormat (path: string) =
    use model = torch.nn.Linear(64L, 32L)
    use stream = File.Create path
    use writer = new BinaryWriter(stream)
    writer.Write "SNNCKPT1"
    writer.Write(Text.Json.JsonSerializer.Serialize metadata)
    writer.Write false
    model.save writer |> ignore

[<Tests>]
let tests =
    testList
        "Checkpoint"
        [ testCase "a saved checkpoint loads back the weights, the momentum and the metadata exactly"
          <| fun () ->
              use folder = new TempFolder()
              let path = folder.File "run/checkpoints/clip.ckpt"
              let model, optimizer = trainedModel 64L
              use _ = model
              use _ = optimizer
              Checkpoint.Save(path, model, optimizer, metadata)
              let copy, copyOptimizer = trainedModel 64L
              use _ = copy
              use _ = copyOptimizer
              torch.nn.init.zeros_ copy.weight |> ignore
              let json = Checkpoint.Load(path, copy, copyOptimizer)
              Expect.equal (values copy.weight) (values model.weight) "weights"
              Expect.equal (values copy.bias) (values model.bias) "bias"
              Expect.stringContains json "\"EpochsDone\":2" "metadata"
              Expect.equal (Checkpoint.ReadMetadata path) json "ReadMetadata gives the same metadata"
              let inspection = Checkpoint.Inspect path
              Expect.equal inspection.State CheckpointState.Valid "valid"
              Expect.equal inspection.Metadata json "Inspect gives the same metadata"
              // The momentum came back: one more identical step from both gives identical weights.
              for m, o in [ model, optimizer; copy, copyOptimizer ] do
                  o.zero_grad ()
                  use x = torch.ones ([| 4L; 64L |])
                  use loss = m.forward(x).sum ()
                  loss.backward ()
                  o.step () |> ignore

              Expect.equal (values copy.weight) (values model.weight) "the next step agrees (momentum restored)"
              Expect.isEmpty (Directory.GetFiles(Path.GetDirectoryName path, "*.tmp")) "no temporary file is left"

          testCase
              "a checkpoint loads in place into a module on another device: the same parameter objects, which an optimizer made before holds"
          <| fun () ->
              // libtorch's meta device (shapes, no data) stands in for a GPU: the values are copied to it in
              // place. Moving the module to the CPU and back (TorchSharp's Module.load) would replace the
              // parameters, so an optimizer made before the load would train disposed tensors.
              use folder = new TempFolder()
              let path = saved folder false
              use model = torch.nn.Linear(64L, 32L)
              model.``to`` (torch.Device DeviceType.META) |> ignore
              let before = model.parameters () |> Array.ofSeq
              Checkpoint.Load(path, model, null) |> ignore
              let after = model.parameters () |> Array.ofSeq
              Expect.equal after.Length before.Length "the same parameters"

              for b, a in Array.zip before after do
                  Expect.isTrue (obj.ReferenceEquals(a, b)) "the same parameter object"
                  Expect.equal a.device_type DeviceType.META "still on the device"

          testCase "a path without a file is absent, never an error, for ReadMetadata and Inspect"
          <| fun () ->
              use folder = new TempFolder()
              let path = folder.File "none.ckpt"
              Expect.isNull (Checkpoint.ReadMetadata path) "ReadMetadata: null"
              Expect.equal (Checkpoint.Inspect path).State CheckpointState.Absent "Inspect: absent"
              use model = torch.nn.Linear(2L, 2L)

              Expect.throwsT<FileNotFoundException>
                  (fun () -> Checkpoint.Load(path, model, null) |> ignore)
                  "Load: no file"

          testCase "a checkpoint truncated to 0 bytes is damaged, not absent"
          <| fun () ->
              use folder = new TempFolder()
              let path = saved folder true
              truncate path 0L
              expectDamage CheckpointProblem.Damaged [ "an empty file (0 bytes)"; $"at least {headerSize} bytes" ] path

          testCase "a checkpoint truncated to half its length is damaged, with both lengths named"
          <| fun () ->
              use folder = new TempFolder()
              let path = saved folder true
              let length = FileInfo(path).Length
              truncate path (length / 2L)
              expectDamage CheckpointProblem.Damaged [ $"expected {length} bytes"; $"found {length / 2L} bytes" ] path

          testCase "a checkpoint truncated inside its header is damaged"
          <| fun () ->
              use folder = new TempFolder()
              let path = saved folder false
              truncate path 20L
              expectDamage CheckpointProblem.Damaged [ "found 20 bytes (the file is truncated)" ] path

          testCase "bytes appended to a checkpoint are damage"
          <| fun () ->
              use folder = new TempFolder()
              let path = saved folder false
              let length = FileInfo(path).Length
              File.AppendAllText(path, "extra")
              expectDamage CheckpointProblem.Damaged [ $"expected {length} bytes"; $"found {length + 5L} bytes" ] path

          testCase "64 overwritten bytes in the weights fail the content hash"
          <| fun () ->
              use folder = new TempFolder()
              let path = saved folder false
              let length = FileInfo(path).Length
              // The 8 KB weight matrix makes up most of the file: its middle is inside the weights.
              overwrite path (length / 2L) (Array.init 64 byte)
              expectDamage CheckpointProblem.Damaged [ "the content hash SHA-256"; "bytes were changed" ] path

          testCase "corrupted metadata fails the content hash"
          <| fun () ->
              use folder = new TempFolder()
              let path = saved folder true
              // The payload starts with the metadata: a length byte, then the JSON text.
              overwrite path (int64 headerSize + 3L) "XX"B
              expectDamage CheckpointProblem.Damaged [ "the content hash SHA-256" ] path

          testCase "an overwritten length in the header is damage"
          <| fun () ->
              use folder = new TempFolder()
              let path = saved folder false
              overwrite path 9L [| 1uy |]
              expectDamage CheckpointProblem.Damaged [ "its header declares" ] path

          testPropertyWithConfig
              { FsCheckConfig.defaultConfig with
                  maxTest = 200 }
              "any one changed byte anywhere in the file is detected"
          <| fun (position: NonNegativeInt) (flip: byte) ->
              use folder = new TempFolder()
              let path = saved folder true
              let bytes = File.ReadAllBytes path
              let at = position.Get % bytes.Length
              bytes.[at] <- bytes.[at] ^^^ (if flip = 0uy then 1uy else flip)
              File.WriteAllBytes(path, bytes)

              match Checkpoint.Inspect path with
              | i when i.State = CheckpointState.Damaged -> true
              | i -> failwith $"byte {at} changed, yet the file reads as {i.State}"

          testCase "a checkpoint of the old format SNNCKPT1 is refused with a clear message"
          <| fun () ->
              use folder = new TempFolder()
              let path = folder.File "old.ckpt"
              writeOldFormat path
              expectDamage CheckpointProblem.UnsupportedFormat [ "SNNCKPT1"; "SNNCKPT2"; "no content hash" ] path

          testCase "a file that is not a checkpoint is refused, showing its first bytes"
          <| fun () ->
              use folder = new TempFolder()
              let path = folder.File "notes.ckpt"
              File.WriteAllText(path, String('x', 100))
              expectDamage CheckpointProblem.UnsupportedFormat [ "the header SNNCKPT2"; "\"xxxxxxxxx\"" ] path

          testCase "an intact checkpoint of another network is a network mismatch"
          <| fun () ->
              use folder = new TempFolder()
              let path = saved folder false
              use other = torch.nn.Linear(16L, 32L)

              expectProblem CheckpointProblem.NetworkMismatch [ "another network"; "Linear" ] path (fun () ->
                  Checkpoint.Load(path, other, null) |> ignore)

              Expect.equal (Checkpoint.Inspect path).State CheckpointState.Valid "the file itself is intact"

          testCase "asking for an optimizer state that was not saved is an error, not a silent skip"
          <| fun () ->
              use folder = new TempFolder()
              let path = saved folder false
              let model, optimizer = trainedModel 64L
              use _ = model
              use _ = optimizer

              expectProblem CheckpointProblem.NetworkMismatch [ "an optimizer state" ] path (fun () ->
                  Checkpoint.Load(path, model, optimizer) |> ignore)

          testCase "a stored optimizer state is skipped when none is asked for"
          <| fun () ->
              use folder = new TempFolder()
              let path = saved folder true
              use model = torch.nn.Linear(64L, 32L)
              Expect.stringContains (Checkpoint.Load(path, model, null)) "clip" "loads with the module alone"

          testCase "a spiking network's state round-trips through a verified file"
          <| fun () ->
              use folder = new TempFolder()
              let path = folder.File "phase2-T4.snn"
              use source = TestNetworks.pooledNetwork torch.float32
              use target = TestNetworks.pooledNetwork torch.float32
              Checkpoint.SaveSpikingNetwork(path, source, metadata)
              Expect.stringContains (Checkpoint.LoadSpikingNetwork(path, target)) "\"Stage\":\"clip\"" "metadata"
              use x = TestNetworks.images torch.float32 2L
              use a = source.Run(x, 3)
              use b = target.Run(x, 3)

              Expect.isTrue
                  (a.Output.shape = b.Output.shape && (a.Output.eq b.Output).all().item<bool> ())
                  "the loaded network computes the same outputs"

          testCase "a damaged spiking-network file or one of another network is refused"
          <| fun () ->
              use folder = new TempFolder()
              let path = folder.File "phase2-T4.snn"
              use source = TestNetworks.pooledNetwork torch.float32
              use other = TestNetworks.residualNetwork torch.float32
              Checkpoint.SaveSpikingNetwork(path, source, metadata)

              expectProblem CheckpointProblem.NetworkMismatch [ "another network"; "layers" ] path (fun () ->
                  Checkpoint.LoadSpikingNetwork(path, other) |> ignore)

              truncate path (FileInfo(path).Length - 1L)

              expectProblem CheckpointProblem.Damaged [ "truncated" ] path (fun () ->
                  Checkpoint.LoadSpikingNetwork(path, source) |> ignore)

          testCase "a failed save leaves the previous checkpoint and no temporary file"
          <| fun () ->
              use folder = new TempFolder()
              let path = saved folder false
              let before = File.ReadAllBytes path
              use model = torch.nn.Linear(64L, 32L)
              let unserialisable = {| Bad = Func<int>(fun () -> 1) |}

              Expect.throws
                  (fun () -> Checkpoint.Save(path, model, null, unserialisable))
                  "the metadata cannot be written"

              Expect.equal (File.ReadAllBytes path) before "the previous checkpoint is unchanged"
              Expect.isEmpty (Directory.GetFiles(folder.Path, "*.tmp")) "no temporary file is left" ]
