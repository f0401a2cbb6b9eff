/// Importing a trained ANN from ONNX: the graph becomes a NetworkSpec plus weights keyed by the
/// compiled network's state-dict names. Every problem is reported at once, before any tensor
/// is created; `Import.toNetwork` then builds the TorchSharp network.
namespace Snn.Dsl.Import

open System.IO
open System.Security.Cryptography
open TorchSharp
open Snn.Dsl
open Snn.Core.Activations

module Import =

    let private modelError what = { Where = "model"; What = what }

    /// The graph's single data input as a per-sample shape: [N, C, H, W] or [N, F], float32, with
    /// the batch axis symbolic or fixed.
    let private inputOf (graph: OnnxGraph) : Result<Port * Shape, ImportError list> =
        match graph.Inputs with
        | [ p ] ->
            let where =
                { Where = $"input '%s{p.Name}'"
                  What = "" }

            let fixedDims what =
                Error
                    [ { where with
                          What = $"dims %s{what}: expected [N, C, H, W] or [N, F] with every dim but the batch N fixed" } ]

            let show =
                p.Dims
                |> List.map (function
                    | Some d -> string d
                    | None -> "?")
                |> String.concat ", "

            if p.ElementType <> 1 && p.ElementType <> 0 then
                Error
                    [ { where with
                          What = $"element type %d{p.ElementType}: expected float32 (1)" } ]
            else
                match p.Dims with
                | [ _; Some c; Some h; Some w ] -> Ok(p, Image(int c, int h, int w))
                | [ _; Some f ] -> Ok(p, Vector(int f))
                | _ -> fixedDims $"[%s{show}]"
        | [] -> Error [ modelError "the graph has no data input (every input is an initializer)" ]
        | ps ->
            let names = ps |> List.map _.Name |> String.concat ", "

            Error
                [ modelError $"the graph has %d{ps.Length} data inputs (%s{names}): expected one image or vector input" ]

    let private unsupportedOps (graph: OnnxGraph) =
        let known = Set.ofList Nodes.layerOps + ShapeArithmetic.helperOps

        graph.Nodes
        |> List.filter (fun n -> not (known.Contains n.OpType))
        |> List.map (fun n ->
            { Where = n.Label
              What = $"op type %s{n.OpType} is not supported; %s{Nodes.supportedText}" })

    let private partsOf (item: Item) =
        match item with
        | Plain p -> [ p ]
        | Block(_, ps, _) -> ps

    let private layerOf (item: Item) =
        match item with
        | Plain p -> p.Layer
        | Block(r, _, _) -> Residual r

    let private labelOf (item: Item) =
        match item with
        | Plain p -> p.Nodes |> List.map _.Label |> String.concat ", "
        | Block(_, _, join) -> $"the residual block joined by %s{join.Label}"

    /// Every weight's shape as the compiled network has it, from the spec (no tensor created).
    let private expectedShapes (info: NetworkInfo) (leaves: (string * Layer) list) =
        let shapes = System.Collections.Generic.Dictionary<string, Shape>()

        // Input shape of every leaf, following the same inference as validation.
        let leafInputs =
            info.Layers
            |> List.collect (fun li ->
                match li.Layer, li.InputShape with
                | Residual r, Image(ch, _, _) ->
                    let body, shortcut = Network.residualParts ch r

                    let run parts =
                        parts
                        |> List.mapFold
                            (fun s l -> s, (Network.layerOutput l s |> Result.defaultValue s))
                            li.InputShape
                        |> fst

                    run body @ run shortcut @ [ li.OutputShape ]
                | _, s -> [ s ])

        for (name, _), s in List.zip leaves leafInputs do
            shapes[name] <- s

        fun (leaf: string) (layer: Layer) (suffix: string) ->
            match layer, shapes[leaf] with
            | Conv c, Image(ch, _, _) when suffix = "weight" ->
                [| int64 c.OutChannels; int64 (ch / c.Groups); int64 c.Kernel; int64 c.Kernel |]
            | Conv c, _ -> [| int64 c.OutChannels |]
            | Linear l, Vector n when suffix = "weight" -> [| int64 l.OutFeatures; int64 n |]
            | Linear l, _ -> [| int64 l.OutFeatures |]
            | BatchNorm, (Image(c, _, _) | Vector c) -> [| int64 c |]
            | _ -> [||]

    /// Imports a read graph: every problem at once, or the model.
    let fromGraph (options: ImportOptions) (graph: OnnxGraph) : Result<ImportedModel, ImportError list> =
        let outputs =
            match graph.Outputs with
            | [ o ] -> Ok o.Name
            | os -> Error [ modelError $"the graph has %d{os.Length} outputs: expected one (the logits)" ]

        match unsupportedOps graph, inputOf graph, outputs with
        | [], Ok(port, shape), Ok output ->
            let walk = Walk.run graph options port shape output

            if not walk.Errors.IsEmpty then
                Error walk.Errors
            else
                let spec =
                    { Input = shape
                      Layers = walk.Items |> List.map layerOf }

                match Network.validate spec with
                | Error es ->
                    Error(
                        es
                        |> List.map (fun e ->
                            match e.Index with
                            | Some i ->
                                { Where = labelOf walk.Items[i]
                                  What = e.Message }
                            | None -> modelError e.Message)
                    )
                | Ok info ->
                    let leaves = Compile.leafNames info
                    let parts = walk.Items |> List.collect partsOf
                    let expected = expectedShapes info leaves
                    let named = List.zip leaves parts

                    let weights =
                        [ for (leaf, layer), part in named do
                              for suffix, w in part.Params -> $"%s{leaf}.%s{suffix}", (leaf, layer, suffix, w) ]

                    let shapeErrors =
                        [ for name, (leaf, layer, suffix, w) in weights do
                              let e = expected leaf layer suffix

                              if w.Shape <> e || w.Count <> int64 w.Data.Length then
                                  let nodes = (named |> List.find (fun ((l, _), _) -> l = leaf) |> snd).Nodes
                                  let where = nodes |> List.map _.Label |> String.concat ", "

                                  { Where = where
                                    What = $"%s{name} has shape %A{w.Shape} (%d{w.Data.Length} values): expected %A{e}" } ]

                    if not shapeErrors.IsEmpty then
                        Error shapeErrors
                    else
                        Ok
                            { Spec = spec
                              Info = info
                              Weights = weights |> List.map (fun (n, (_, _, _, w)) -> n, w)
                              ClipMaxima =
                                named
                                |> List.choose (fun ((leaf, _), p) -> p.ClipMax |> Option.map (fun m -> leaf, m))
                              Warnings = walk.Warnings
                              Provenance = named |> List.map (fun ((leaf, _), p) -> leaf, p.Nodes |> List.map _.Label)
                              InputName = port.Name
                              OutputName = output
                              Nodes = graph.Nodes.Length
                              OpsetVersion = graph.OpsetVersion
                              Producer = graph.Producer }
        | unsupported, input, outputs ->
            let errorsOf r =
                match r with
                | Error es -> es
                | Ok _ -> []

            Error(errorsOf input @ errorsOf (outputs |> Result.map ignore) @ unsupported)

    /// Imports ONNX bytes.
    let fromBytes (options: ImportOptions) (bytes: byte[]) : Result<ImportedModel, ImportError list> =
        match OnnxGraph.parse bytes with
        | Ok g -> fromGraph options g
        | Error es -> Error(es |> List.map modelError)

    /// Imports an ONNX file; every error names the file or the node and what was expected.
    let fromFile (options: ImportOptions) (path: string) : Result<ImportedModel, ImportError list> =
        if not (File.Exists path) then
            Error
                [ { Where = path
                    What = "file not found (expected an ONNX model file)" } ]
        else
            match OnnxGraph.parse (File.ReadAllBytes path) with
            | Ok g -> fromGraph options g
            | Error es -> Error(es |> List.map (fun e -> { Where = path; What = e }))

    /// The SHA-256 of a file, lower-case hex.
    let sha256 (path: string) =
        use stream = File.OpenRead path

        SHA256.HashData(stream)
        |> Array.map (fun b -> b.ToString "x2")
        |> String.concat ""

    /// The activation an imported network computes: ReLU when no layer is bounded; otherwise Clip,
    /// with each bounded layer's threshold its maximum m and every unbounded layer's threshold
    /// float32's largest value (clip(x, 0, 3.4e38) = ReLU for every finite float32 x).
    let activationOf (model: ImportedModel) =
        if model.ClipMaxima.IsEmpty then Relu else Clip 1.0

    /// The compiled network with the imported weights, in evaluation mode: it computes what the
    /// ONNX model computes (MaxPool aside when replaced). The caller owns (disposes) it.
    let toNetwork (model: ImportedModel) : CompiledNetwork =
        let network = Compile.build (activationOf model) model.Info
        use _ = torch.no_grad ()
        let state = network.state_dict ()

        for name, w in model.Weights do
            use t = torch.tensor (w.Data, System.ReadOnlySpan<int64>(w.Shape))
            state[name].copy_ t |> ignore

        if not model.ClipMaxima.IsEmpty then
            let maxima = Map.ofList model.ClipMaxima

            for l in Compile.activations network do
                match l.Module with
                | :? ClipActivation as c ->
                    let m = maxima.TryFind l.Name |> Option.defaultValue (float System.Single.MaxValue)
                    c.Threshold.fill_ (m) |> ignore
                | _ -> ()

        network.eval ()
        network
