/// Compiling a validated network spec to TorchSharp modules with stable, checkpoint-friendly
/// names ("conv1", "bn1", "act1", "pool1", "fc1", residual blocks "layer1.0.conv1").
namespace Snn.Dsl

open TorchSharp
open Snn.Core.Activations

module Compile =

    /// The problems of an activation's parameters (levels >= 1, threshold > 0, p in [0, 1)).
    let validateActivation (activation: Activation) : ValidationError list =
        let error p =
            { Index = None
              Layer = "activation"
              Problem = p }

        let threshold t =
            if t > 0.0 && not (System.Double.IsInfinity t) then
                []
            else
                [ error (ThresholdNotPositive t) ]

        let levels l =
            if l >= 1 then
                []
            else
                [ error (NonPositive("levels L", l)) ]

        match activation with
        | Relu -> []
        | Clip t -> threshold t
        | QC(l, t) -> levels l @ threshold t
        | NoisyQC(l, t, p) ->
            levels l
            @ threshold t
            @ (if p >= 0.0 && p < 1.0 then
                   []
               else
                   [ error (NoiseProbabilityOutOfRange p) ])

    let private activationModule (activation: Activation) name : torch.nn.Module<torch.Tensor, torch.Tensor> =
        match activation with
        | Relu -> torch.nn.ReLU()
        | Clip t -> new ClipActivation(t, name)
        | QC(l, t) -> new QuantizeClipActivation(l, t, 0.0, name)
        | NoisyQC(l, t, p) -> new QuantizeClipActivation(l, t, p, name)

    /// A module for a plain (non-residual) layer with this input shape.
    let private plainModule
        (activation: Activation)
        (layer: Layer)
        (inputShape: Shape)
        name
        : torch.nn.Module<torch.Tensor, torch.Tensor> =
        match layer, inputShape with
        | Conv c, Image(ch, _, _) ->
            torch.nn.Conv2d(
                int64 ch,
                int64 c.OutChannels,
                int64 c.Kernel,
                stride = int64 c.Stride,
                padding = int64 c.Padding,
                dilation = int64 c.Dilation,
                groups = int64 c.Groups,
                bias = c.Bias
            )
        | BatchNorm, Image(ch, _, _) -> torch.nn.BatchNorm2d(int64 ch)
        | BatchNorm, Vector n -> torch.nn.BatchNorm1d(int64 n)
        | Act, _ -> activationModule activation name
        | AvgPool p, _ -> torch.nn.AvgPool2d(int64 p.Kernel, stride = int64 p.Stride, padding = int64 p.Padding)
        | MaxPool p, _ -> torch.nn.MaxPool2d(int64 p.Kernel, stride = int64 p.Stride, padding = int64 p.Padding)
        | GlobalAvgPool, _ -> torch.nn.AdaptiveAvgPool2d(1L)
        | Flatten, _ -> torch.nn.Flatten()
        | Linear l, Vector n -> torch.nn.Linear(int64 n, int64 l.OutFeatures, hasBias = l.Bias)
        | Dropout p, _ -> torch.nn.Dropout(p)
        | _ -> invalidArg "layer" $"%s{layer.Description} on input %O{inputShape} was not rejected by validation"

    /// Infers a plain layer's output shape (the spec is known to be valid).
    let private outputOf layer shape =
        match Network.layerOutput layer shape with
        | Ok s -> s
        | Error ps -> invalidArg "layer" $"%s{layer.Description} on input %O{shape}: %A{ps}"

    /// The local names of a residual block's parts in execution order: conv1, bn1, act1, conv2,
    /// bn2 (bn only with batch norm), shortcut.0, shortcut.1 (as many as the shortcut has), act2.
    let residualPartNames (r: Residual) (shortcutParts: int) =
        let body =
            if r.BatchNorm then
                [ "conv1"; "bn1"; "act1"; "conv2"; "bn2" ]
            else
                [ "conv1"; "act1"; "conv2" ]

        body @ List.init shortcutParts (sprintf "shortcut.%d") @ [ "act2" ]

    let private residualLayer activation (r: Residual) index (inputShape: Shape) (outputShape: Shape) path =
        let ch =
            match inputShape with
            | Image(c, _, _) -> c
            | Vector n -> n

        let body, shortcut = Network.residualParts ch r

        let build (names: string list) (parts: Layer list) =
            List.zip names parts
            |> List.mapFold
                (fun shape (n, part) ->
                    let out = outputOf part shape
                    let full = $"%s{path}.%s{n}"

                    { Name = full
                      Layer = part
                      Index = index
                      InputShape = shape
                      OutputShape = out
                      Module = plainModule activation part shape full
                      Children = [] },
                    out)
                inputShape
            |> fst

        let bodyLayers =
            build (residualPartNames r shortcut.Length |> List.take body.Length) body

        let shortcutLayers =
            build (shortcut |> List.mapi (fun i _ -> $"shortcut.%d{i}")) shortcut

        let act2 =
            { Name = $"%s{path}.act2"
              Layer = Act
              Index = index
              InputShape = outputShape
              OutputShape = outputShape
              Module = activationModule activation $"%s{path}.act2"
              Children = [] }

        let local (l: CompiledLayer) =
            l.Name.Substring(l.Name.LastIndexOf('.') + 1), l.Module

        let block =
            new BasicBlock(path, bodyLayers |> List.map local, shortcutLayers |> List.map local, act2.Module)

        { Name = path
          Layer = Residual r
          Index = index
          InputShape = inputShape
          OutputShape = outputShape
          Module = block
          Children = bodyLayers @ shortcutLayers @ [ act2 ] }

    /// The state-dict path of every top-level layer of a valid spec, in order. Names count per
    /// kind: conv1.., bn1.., act1.., pool1.. (average, max and global pooling), flatten1..,
    /// dropout1.., fc1..; a run of consecutive residual blocks is a stage "layer1", "layer2", ..,
    /// and a block that changes shape (stride or channels) starts a new stage; blocks inside a
    /// stage are "layerK.0", "layerK.1", ...
    let layerPaths (info: NetworkInfo) : string list =
        let counters = System.Collections.Generic.Dictionary<string, int>()

        let next prefix =
            let k =
                (match counters.TryGetValue prefix with
                 | true, v -> v
                 | _ -> 0)
                + 1

            counters[prefix] <- k
            k

        info.Layers
        |> List.mapFold
            (fun (stage: (string * int) option) (li: LayerInfo) ->
                match li.Layer, stage with
                | Residual _, Some(name, blocks) when li.InputShape = li.OutputShape ->
                    $"%s{name}.%d{blocks}", Some(name, blocks + 1)
                | Residual _, _ ->
                    let name = "layer" + string (next "layer")
                    $"%s{name}.0", Some(name, 1)
                | layer, _ ->
                    let prefix =
                        match layer with
                        | Conv _ -> "conv"
                        | BatchNorm -> "bn"
                        | Act -> "act"
                        | AvgPool _
                        | MaxPool _
                        | GlobalAvgPool -> "pool"
                        | Flatten -> "flatten"
                        | Linear _ -> "fc"
                        | Dropout _ -> "dropout"
                        | Residual _ -> "layer"

                    $"%s{prefix}%d{next prefix}", None)
            None
        |> fst

    /// Every leaf's state-dict name and layer in execution order (residual blocks expanded), as
    /// `build` names them; computed from the spec alone, without creating a tensor.
    let leafNames (info: NetworkInfo) : (string * Layer) list =
        List.zip info.Layers (layerPaths info)
        |> List.collect (fun (li, path) ->
            match li.Layer, li.InputShape with
            | Residual r, Image(ch, _, _) ->
                let body, shortcut = Network.residualParts ch r

                List.zip (residualPartNames r shortcut.Length) (body @ shortcut @ [ Act ])
                |> List.map (fun (n, l) -> $"%s{path}.%s{n}", l)
            | layer, _ -> [ path, layer ])

    /// Compiles a validated network with this activation in every `act`, named as `layerPaths`
    /// says. Throws ArgumentException when the activation's parameters are out of range.
    let build (activation: Activation) (info: NetworkInfo) : CompiledNetwork =
        // The first TorchSharp module of a script or notebook may be made here, before anything
        // touched Snn.Core: load TorchSharp's native libraries the way Snn.Core does (by path).
        Snn.Core.Native.TorchRuntime.EnsureNativeCompatibility()

        match validateActivation activation with
        | [] -> ()
        | es -> invalidArg "activation" (es |> List.map _.Message |> String.concat "; ")

        let compiled =
            List.zip info.Layers (layerPaths info)
            |> List.map (fun (li, path) ->
                match li.Layer with
                | Residual r -> residualLayer activation r li.Index li.InputShape li.OutputShape path
                | layer ->
                    { Name = path
                      Layer = layer
                      Index = li.Index
                      InputShape = li.InputShape
                      OutputShape = li.OutputShape
                      Module = plainModule activation layer li.InputShape path
                      Children = [] })

        // Consecutive blocks of one stage ("layer2.0", "layer2.1") run inside one Chain "layer2".
        let stageOf (l: CompiledLayer) =
            match l.Layer with
            | Residual _ -> l.Name.Substring(0, l.Name.IndexOf '.')
            | _ -> ""

        let top =
            compiled
            |> List.fold
                (fun groups l ->
                    match groups, stageOf l with
                    | (stage, ls) :: rest, s when s <> "" && s = stage -> (stage, ls @ [ l ]) :: rest
                    | _, s -> (s, [ l ]) :: groups)
                []
            |> List.rev
            |> List.map (fun (stage, ls) ->
                if stage = "" then
                    ls.Head.Name, ls.Head.Module
                else
                    let local (l: CompiledLayer) =
                        l.Name.Substring(stage.Length + 1), l.Module

                    stage, (new Chain(stage, ls |> List.map local) :> torch.nn.Module<torch.Tensor, torch.Tensor>))

        new CompiledNetwork(info, activation, top, compiled)

    /// Validates the spec and the activation (all errors together), then compiles.
    let compile (activation: Activation) (spec: NetworkSpec) : Result<CompiledNetwork, ValidationError list> =
        match Network.validate spec, validateActivation activation with
        | Ok info, [] -> Ok(build activation info)
        | Ok _, es -> Error es
        | Error es, aes -> Error(aes @ es)

    /// The activation layers in execution order (inside residual blocks too).
    let activations (network: CompiledNetwork) =
        network.Leaves |> List.filter (fun l -> l.Layer = Act)

    /// (name, |theta|) of every clip or quantize-clip activation, in execution order.
    let thresholds (network: CompiledNetwork) =
        activations network
        |> List.choose (fun l ->
            match l.Module with
            | :? ClipActivation as c -> Some(l.Name, c.EffectiveThreshold)
            | :? QuantizeClipActivation as q -> Some(l.Name, q.EffectiveThreshold)
            | _ -> None)

    /// Number of learnable parameters (elements) of the compiled module.
    let parameterCount (network: CompiledNetwork) =
        network.parameters () |> Seq.sumBy (fun p -> p.numel ())

    /// The device of a module's tensors: that of its first parameter, else its first buffer, else
    /// the CPU (a module without tensors).
    let deviceOf (m: torch.nn.Module) : torch.Device =
        match Seq.tryHead (m.parameters ()) with
        | Some p -> p.device
        | None ->
            match Seq.tryHead (m.buffers ()) with
            | Some b -> b.device
            | None -> torch.CPU

    /// Moves every parameter and buffer of `network` to `device` in place (nothing is copied when
    /// they are there already) and returns it.
    let toDevice (device: torch.Device) (network: CompiledNetwork) : CompiledNetwork =
        let current = deviceOf network

        if current.``type`` <> device.``type`` || current.index <> device.index then
            network.``to`` device |> ignore

        network

    /// Copies every parameter and buffer of `source` into `target` whose name and shape match
    /// (e.g. weights, BN statistics, and clip thresholds into QC thresholds). Returns the names
    /// of the target's parameters and buffers that received no value.
    let copyMatching (source: torch.nn.Module) (target: torch.nn.Module) : string list =
        use _ = torch.no_grad ()
        let sourceState = source.state_dict ()

        [ for KeyValue(name, t) in target.state_dict () do
              match sourceState.TryGetValue name with
              | true, s when s.shape = t.shape -> t.copy_ (s) |> ignore
              | _ -> yield name ]

    /// The same spec compiled with another activation, carrying over every matching parameter
    /// (weights, biases, BN state, thresholds). The source is unchanged; the copy lives on
    /// the source's device.
    let withActivation (activation: Activation) (network: CompiledNetwork) : CompiledNetwork =
        let target = build activation network.Info |> toDevice (deviceOf network)
        copyMatching network target |> ignore
        target
