namespace Snn.Dsl

/// Validating whole network specs (every error at once); also the single-layer facts of
/// Inference.fs under their public names.
module Network =

    /// Parameters of a conv: out * (in / groups) * k * k (+ out for the bias).
    let convParameters inChannels (c: Conv) = Inference.convParameters inChannels c

    /// The layers a residual block is made of, in execution order, as plain layers:
    /// body (conv1, bn1, act1, conv2, bn2) and shortcut (empty = identity, else conv, bn).
    let residualParts inChannels (r: Residual) = Inference.residualParts inChannels r

    /// The output shape of one layer on this input, or its size and shape problems (the
    /// order rules, e.g. bn after a conv, are checked by `validate` only).
    let layerOutput (layer: Layer) (input: Shape) : Result<Shape, Problem list> = Inference.layerOutput layer input

    let private isWeighted layer =
        match layer with
        | Conv _
        | Linear _ -> true
        | _ -> false

    let private orderProblems (layers: Layer list) =
        layers
        |> List.mapi (fun i layer ->
            let previous = if i = 0 then None else Some layers[i - 1]
            let prevName = previous |> Option.map _.KindName |> Option.defaultValue "the input"

            match layer with
            | BatchNorm when not (previous |> Option.exists isWeighted) ->
                [ i, BatchNormNotAfterWeightedLayer prevName ]
            | Act when not (previous |> Option.exists (fun p -> isWeighted p || p = BatchNorm)) ->
                [ i, ActivationNotAfterWeightedLayer prevName ]
            | _ -> [])
        |> List.concat

    /// Infers every layer's shape and validates the whole spec; returns all errors together.
    let validate (spec: NetworkSpec) : Result<NetworkInfo, ValidationError list> =
        let inputErrors =
            let positive what v =
                if v > 0 then
                    []
                else
                    [ { Index = None
                        Layer = "input"
                        Problem = NonPositive(what, v) } ]

            match spec.Input with
            | Image(c, h, w) ->
                positive "input channels" c
                @ positive "input height" h
                @ positive "input width" w
            | Vector n -> positive "input features" n

        let error i (layer: Layer) p =
            { Index = Some i
              Layer = layer.Description
              Problem = p }

        let _, infos, shapeErrors, notes =
            spec.Layers
            |> List.indexed
            |> List.fold
                (fun (shape, infos, errors, notes) (i, layer) ->
                    let sizes = Inference.sizeErrors layer

                    match shape with
                    | Some s when sizes.IsEmpty && inputErrors.IsEmpty ->
                        let out, n, problems, ns = Inference.infer layer s

                        let infos' =
                            match out with
                            | Some o when problems.IsEmpty ->
                                { Index = i
                                  Layer = layer
                                  InputShape = s
                                  OutputShape = o
                                  Parameters = n }
                                :: infos
                            | _ -> infos

                        out,
                        infos',
                        errors @ List.map (error i layer) problems,
                        notes @ List.map (sprintf "layer %d: %s" i) ns
                    | Some s when inputErrors.IsEmpty && layer.KindName = "dropout" ->
                        // A bad dropout p does not change the shape: keep checking what follows.
                        Some s, infos, errors @ List.map (error i layer) sizes, notes
                    | _ -> None, infos, errors @ List.map (error i layer) sizes, notes)
                (Some spec.Input, [], [], [])

        let orderErrors =
            orderProblems spec.Layers |> List.map (fun (i, p) -> error i spec.Layers[i] p)

        let outputErrors =
            match List.tryLast spec.Layers with
            | None ->
                [ { Index = None
                    Layer = "network"
                    Problem = EmptyNetwork } ]
            | Some(Linear _) -> []
            | Some last ->
                [ { Index = Some(spec.Layers.Length - 1)
                    Layer = last.Description
                    Problem = OutputNotLinear last.KindName } ]

        let errors =
            inputErrors @ shapeErrors @ orderErrors @ outputErrors
            |> List.sortBy (fun e -> defaultArg e.Index -1)

        if errors.IsEmpty then
            let infos = List.rev infos

            Ok
                { Spec = spec
                  Layers = infos
                  OutputShape = (List.last infos).OutputShape
                  Parameters = infos |> List.sumBy _.Parameters
                  Notes = notes }
        else
            Error errors

    /// The messages of a validation result's errors (empty when valid).
    let messages (result: Result<NetworkInfo, ValidationError list>) =
        match result with
        | Ok _ -> []
        | Error es -> es |> List.map _.Message
