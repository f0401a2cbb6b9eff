/// The artifacts of a run: the current version of each key, saved in the run folder as soon as
/// a step makes it (with its descriptor, records and SHA-256), and loaded back on first use when
/// the step that made it was finished in an earlier run.
namespace Snn.Dsl.Pipeline

open System
open System.Collections.Generic
open System.IO
open System.Text.Json.Nodes
open TorchSharp
open Snn.Core.Checkpoints
open Snn.Core.Simulation
open Snn.Dsl
open Snn.Dsl.Json

/// One saved artifact: what it is, where its file is, and its value once loaded.
type ArtifactEntry =
    { Artifact: Artifact
      Identity: string
      Descriptor: Descriptor
      File: string
      Sha256: string
      Records: Record list }

module ArtifactEntry =

    let codec: Codec<ArtifactEntry> =
        Codec.record (fun a i d f s r ->
            { Artifact = a
              Identity = i
              Descriptor = d
              File = f
              Sha256 = s
              Records = r })
        |> Codec.field "artifact" _.Artifact ArtifactCodec.artifact
        |> Codec.field "identity" _.Identity Codec.string
        |> Codec.field "descriptor" _.Descriptor ArtifactCodec.descriptor
        |> Codec.field "file" _.File Codec.string
        |> Codec.field "sha256" _.Sha256 Codec.string
        |> Codec.field "records" _.Records (Codec.list Records.codec)
        |> Codec.build

    /// A file-system-friendly name of an artifact key.
    let slug (a: Artifact) =
        match a with
        | Network ReluAnn -> "relu"
        | Network ClipAnn -> "clip"
        | Network(QcAnn l) -> $"qc-L{l}"
        | Network(QcfsAnn l) -> $"qcfs-L{l}"
        | Spiking t -> $"spiking-T{t}"


    let private compile (device: torch.Device) (info: AnnInfo) =
        match Compile.compile info.Activation info.Spec with
        | Ok n -> Compile.toDevice device n
        | Error es -> invalidOp (es |> List.map _.Message |> String.concat "; ")

    /// The value of a saved artifact, read from `artifacts` (the run's artifacts folder) after its
    /// SHA-256 is checked, on `device` (the saved values are copied there); the caller owns it. A
    /// missing or damaged file is an error that names it.
    let load (artifacts: string) (device: torch.Device) (e: ArtifactEntry) =
        let path = Path.Combine(artifacts, e.File)

        if not (File.Exists path) then
            raise (
                FileNotFoundException(
                    $"{path}: the file of {e.Artifact.Description} is missing; delete the run's record of it to recompute it"
                )
            )

        let found = Hash.file path

        if found <> e.Sha256 then
            raise (
                InvalidDataException(
                    $"{path}: damaged: its SHA-256 is {found}, the record says {e.Sha256}; delete it to recompute {e.Artifact.Description}"
                )
            )

        match e.Descriptor with
        | AnnDescriptor info ->
            let net = compile device info
            Checkpoint.Load(path, net, null) |> ignore
            net.eval ()
            AnnValue net
        | SpikingDescriptor info ->
            // Converted on the device from a network of the source's shape; the saved state is then copied in.
            use source = compile device info.SourceInfo

            let snn =
                match Convert.toSpiking info.Conversion source with
                | Ok s -> s
                | Error es -> invalidOp (es |> List.map _.Message |> String.concat "; ")

            use stream = File.OpenRead path
            use reader = new BinaryReader(stream)
            SpikingNetworkState.Load(snn, reader, path)
            SpikingValue snn

/// The current artifacts of a run (owner of every loaded value); values loaded from the run folder
/// are placed on `device`, the run's device.
type ArtifactStore(folder: RunFolder, device: torch.Device) =
    let entries = Dictionary<Artifact, ArtifactEntry>()
    let values = Dictionary<Artifact, ArtifactValue>()
    let order = List<Artifact>()

    let disposeValue (v: ArtifactValue) =
        match v with
        | AnnValue n -> n.Dispose()
        | SpikingValue s -> s.Dispose()

    let sameObject (a: ArtifactValue) (b: ArtifactValue) =
        match a, b with
        | AnnValue x, AnnValue y -> obj.ReferenceEquals(x, y)
        | SpikingValue x, SpikingValue y -> obj.ReferenceEquals(x, y)
        | _ -> false

    let metaPath (a: Artifact) (identity: string) =
        Path.Combine(folder.Artifacts, $"{ArtifactEntry.slug a}-{identity.Substring(0, 16)}.json")

    let remember (e: ArtifactEntry) =
        if not (entries.ContainsKey e.Artifact) then
            order.Add e.Artifact

        entries[e.Artifact] <- e

    /// The keys present, in the order they were first made.
    member _.Keys = List.ofSeq order

    member _.Entry(a: Artifact) = entries[a]
    member _.Contains(a: Artifact) = entries.ContainsKey a

    /// Registers an artifact finished in an earlier run (loaded on first use).
    member _.Register(e: ArtifactEntry) =
        match values.TryGetValue e.Artifact with
        | true, v ->
            disposeValue v
            values.Remove e.Artifact |> ignore
        | _ -> ()

        remember e

    /// The value of an artifact, loading it when needed.
    member _.Value(a: Artifact) =
        match values.TryGetValue a with
        | true, v -> v
        | _ ->
            let v = ArtifactEntry.load folder.Artifacts device entries[a]
            values[a] <- v
            v

    /// Saves what a step made and makes it the current version (the store owns the value).
    member _.Save(a: Artifact, identity: string, descriptor: Descriptor, value: ArtifactValue, records: Record list) =
        let ext =
            match value with
            | AnnValue _ -> "ckpt"
            | SpikingValue _ -> "snn"

        let file = $"{ArtifactEntry.slug a}-{identity.Substring(0, 16)}.{ext}"
        let path = Path.Combine(folder.Artifacts, file)

        let sha =
            match value with
            | AnnValue net ->
                Checkpoint.Save(
                    path,
                    net,
                    null,
                    {| Artifact = ArtifactEntry.slug a
                       Identity = identity |}
                )

                Hash.file path
            | SpikingValue snn ->
                folder.WriteAtomic(
                    path,
                    fun s ->
                        use w = new BinaryWriter(s, Text.Encoding.UTF8, true)
                        SpikingNetworkState.Save(snn, w)
                )

        let e =
            { Artifact = a
              Identity = identity
              Descriptor = descriptor
              File = file
              Sha256 = sha
              Records = records }

        folder.WriteRecord(metaPath a identity, ArtifactEntry.codec.Encode e)

        match values.TryGetValue a with
        | true, old when not (sameObject old value) -> disposeValue old
        | _ -> ()

        values[a] <- value
        remember e
        e

    /// The entry of an artifact saved earlier with this identity (its file intact), if any.
    member _.TrySaved(a: Artifact, identity: string) =
        let meta = metaPath a identity

        if File.Exists meta then
            match ArtifactEntry.codec.Decode meta (folder.ReadRecord meta) with
            | Ok e when File.Exists(Path.Combine(folder.Artifacts, e.File)) -> Some e
            | Ok _ -> None
            | Error es -> raise (InvalidDataException($"{meta}: {es.Head.Message}; delete it to recompute"))
        else
            None

    /// Frees loaded values that no later step needs (they stay on disk).
    member _.Release(keep: Set<Artifact>) =
        for a in List.ofSeq values.Keys do
            if not (keep.Contains a) then
                disposeValue values[a]
                values.Remove a |> ignore

    interface IDisposable with
        member _.Dispose() =
            for v in values.Values do
                disposeValue v

            values.Clear()
