using Snn.Core.Native;
using Snn.Core.Simulation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Snn.Core.Calibration;

/// <summary>
/// A spiking network's learnable tensors as parameters (every synapse's weight and bias, every layer's v(0) and
/// surrogate slope alpha, with learnThresholds every layer's theta, and with batchNorm the gamma and beta of a
/// <see cref="SynapseBatchNorm"/> on every synapse into a spiking layer), and its differentiable T-step forward.
/// </summary>
internal sealed class TrainableNetwork : IDisposable
{
    /// <summary>A learned threshold never falls below this fraction of its start (theta stays &gt; 0).</summary>
    public const double ThresholdFloor = 0.01;

    private readonly SpikingNetwork network;
    private readonly bool detachReset;
    private readonly FineTuneGradient gradient;
    private readonly Parameter?[][] weights;
    private readonly Parameter?[][] biases;
    private readonly Parameter?[] initialPotentials;
    private readonly Parameter?[] slopes;
    private readonly Parameter?[] thresholds;
    private readonly Tensor?[] thresholdFloors;
    private readonly SynapseBatchNorm?[][] norms;

    /// <summary>What <see cref="Snapshot"/> copies: the parameters, then every batch normalisation's running statistics.</summary>
    private readonly List<Tensor> state;

    public TrainableNetwork(
        SpikingNetwork network, double slope, bool detachReset, bool learnThresholds = false,
        FineTuneGradient gradient = FineTuneGradient.Surrogate, bool batchNorm = false)
    {
        this.network = network;
        this.detachReset = detachReset;
        this.gradient = gradient;
        var layers = network.Layers;
        weights = layers.Select(l => l.Inputs.Select(i => i.Synapse is null ? null : new Parameter(i.Synapse.Weight.detach().clone(), true)).ToArray()).ToArray();
        biases = layers.Select(l => l.Inputs.Select(i => i.Synapse?.Bias is null ? null : new Parameter(i.Synapse.Bias.detach().clone(), true)).ToArray()).ToArray();
        initialPotentials = layers.Select(l => l.InitialPotential is null ? null : new Parameter(l.InitialPotential.detach().clone(), true)).ToArray();
        slopes = layers.Select(l => l.HasNeuron ? new Parameter(torch.tensor(slope, float32, network.Device), true) : null).ToArray();
        thresholds = layers.Select(l => learnThresholds && l.Threshold is { } theta ? new Parameter(theta.detach().clone(), true) : null).ToArray();
        thresholdFloors = layers.Select(l => learnThresholds && l.Threshold is { } theta ? theta.detach().mul(ThresholdFloor) : null).ToArray();
        norms = layers.Select(l => l.Inputs.Select((input, i) => batchNorm && l.HasNeuron ? Norm(l, i, input.Synapse) : null).ToArray()).ToArray();
        var normed = norms.SelectMany(n => n).Where(n => n is not null).Select(n => n!).ToList();
        Parameters = weights.SelectMany(w => w).Concat(biases.SelectMany(b => b)).Concat(initialPotentials).Concat(slopes).Concat(thresholds)
            .Concat(normed.SelectMany(n => new[] { n.Gamma, n.Beta }))
            .Where(p => p is not null).Select(p => p!).ToList();
        state = [.. Parameters, .. normed.SelectMany(n => n.Buffers)];
    }

    public List<Parameter> Parameters { get; }

    /// <summary>Batch normalisation (when on) with each batch's statistics, updating the running ones; false: with the running ones.</summary>
    public bool Training { get; set; }

    private static SynapseBatchNorm? Norm(SpikingLayer layer, int input, Synapse? synapse)
    {
        if (synapse is null)
        {
            return null;
        }

        if (synapse.Bias is null)
        {
            throw new ArgumentException(
                $"layer {layer.Name}: batch normalisation in the fine-tune folds into each synapse's bias, and input {input} has no bias",
                "batchNorm");
        }

        return new SynapseBatchNorm(synapse.Weight.shape[0], synapse.Weight.device);
    }

    /// <summary>Logits [B, classes]: the mean over T of the output layer's current.</summary>
    public Tensor Forward(Tensor images, int timeSteps) => Run(images, timeSteps, perStep: false);

    /// <summary>The output layer's current at every step, [T, B, classes].</summary>
    public Tensor ForwardSteps(Tensor images, int timeSteps) => Run(images, timeSteps, perStep: true);

    private Tensor Run(Tensor images, int timeSteps, bool perStep)
    {
        var batch = images.shape[0];
        var outputs = new Tensor?[network.Layers.Count];
        Tensor? logits = null;
        for (var l = 0; l < network.Layers.Count; l++)
        {
            var layer = network.Layers[l];
            Tensor? constant = null, current = null;
            for (var i = 0; i < layer.Inputs.Count; i++)
            {
                var input = layer.Inputs[i];
                var x = input.Source == SpikingNetwork.ImageSource ? images : outputs[input.Source]!;
                var spiking = input.Source != SpikingNetwork.ImageSource;
                var flat = spiking ? x.flatten(0, 1) : x;
                var c = input.Synapse is null ? flat : input.Synapse.Apply(flat, weights[l][i]!, biases[l][i]);
                if (norms[l][i] is { } norm)
                {
                    c = norm.Apply(c, Training);
                }

                if (spiking)
                {
                    c = c.unflatten(0, [timeSteps, batch]);
                    current = current is null ? c : current.add(c, Scalars.One);
                }
                else
                {
                    constant = constant is null ? c : constant.add(c, Scalars.One);
                }
            }

            if (!layer.HasNeuron)
            {
                var total = current is null ? constant! : constant is null ? current.mean([0]) : current.mean([0]).add(constant, Scalars.One);
                logits = perStep ? PerStep(current, constant, timeSteps) : total;
                outputs[l] = total;
                continue;
            }

            var theta = (Tensor?)thresholds[l] ?? layer.Threshold!;
            outputs[l] = gradient == FineTuneGradient.Rate
                ? RateOutputs(l, current, constant, theta, batch, timeSteps)
                : SurrogateOutputs(l, current, constant, theta, batch, timeSteps, slopes[l]!, detachReset);
        }

        return logits!;
    }

    /// <summary>Layer l's outputs theta * s(t), [T, B, ...], through the IF dynamics with the surrogate spike of slope alpha.</summary>
    private Tensor SurrogateOutputs(
        int l, Tensor? current, Tensor? constant, Tensor theta, long batch, int timeSteps, Tensor slope, bool detach)
    {
        var v = initialPotentials[l]!.expand([batch, .. network.Layers[l].NeuronShape]);
        var steps = new Tensor[timeSteps];
        for (var t = 0; t < timeSteps; t++)
        {
            var it = current is null ? constant! : constant is null ? current[t] : current[t].add(constant, Scalars.One);
            (v, steps[t]) = SurrogateStep.Step(v, it, theta, slope, detach);
        }

        return stack(steps);
    }

    /// <summary>
    /// Layer l's outputs for <see cref="FineTuneGradient.Rate"/>: forward exactly the IF outputs theta * s(t) (the same
    /// operations as <see cref="SurrogateOutputs"/>, run without a graph); backward, every step's output passes the
    /// gradient of the rate proxy r = min(max(zbar + (v(0) - theta / 2) / T, 0), theta), zbar the mean input current.
    /// </summary>
    private Tensor RateOutputs(int l, Tensor? current, Tensor? constant, Tensor theta, long batch, int timeSteps)
    {
        Tensor exact;
        using (no_grad())
        {
            exact = SurrogateOutputs(
                l, current?.detach(), constant?.detach(), theta.detach(), batch, timeSteps, slopes[l]!.detach(), detach: true);
        }

        var mean = current is null ? constant! : constant is null ? current.mean([0]) : current.mean([0]).add(constant, Scalars.One);
        var shift = initialPotentials[l]!.sub(theta.mul(Scalars.Half)).div(timeSteps);
        var proxy = mean.add(shift, Scalars.One).relu().minimum(theta);
        return exact.add(proxy.sub(proxy.detach()).unsqueeze(0), Scalars.One);
    }

    /// <summary>[T, B, ...]: each step's current plus the constant (image-fed) part.</summary>
    private static Tensor PerStep(Tensor? current, Tensor? constant, int timeSteps) =>
        current is null ? constant!.unsqueeze(0).expand([timeSteps, .. constant.shape])
        : constant is null ? current
        : current.add(constant, Scalars.One);

    /// <summary>Accuracy (%) of the current parameters on labelled batches (batch normalisation, when on, with its running statistics).</summary>
    /// <exception cref="ArgumentException">No batch, or a batch on another device than the network's.</exception>
    public double Accuracy(IEnumerable<(Tensor Images, Tensor Labels)> batches, int timeSteps)
    {
        using var noGrad = no_grad();
        long correct = 0, seen = 0;
        var any = false;
        var training = Training;
        Training = false;
        try
        {
            foreach (var (images, labels) in batches)
            {
                network.EnsureOnDevice(images, "heldOut");
                using var scope = NewDisposeScope();
                correct += Forward(images, timeSteps).argmax(1).eq(labels).sum().item<long>();
                seen += labels.shape[0];
                any = true;
            }
        }
        finally
        {
            Training = training;
        }

        if (!any)
        {
            throw new ArgumentException("at least one held-out batch is needed for early stopping", "heldOut");
        }

        return 100.0 * correct / Math.Max(1, seen);
    }

    public Tensor[] Snapshot()
    {
        using var noGrad = no_grad();
        return state.Select(p => p.detach().clone().DetachFromDisposeScope()).ToArray();
    }

    public void Restore(Tensor[] saved)
    {
        using var noGrad = no_grad();
        for (var i = 0; i < state.Count; i++)
        {
            state[i].copy_(saved[i]);
        }
    }

    /// <summary>Lifts every learned theta back to at least <see cref="ThresholdFloor"/> times its start (after an optimiser step).</summary>
    public void KeepThresholdsPositive()
    {
        using var noGrad = no_grad();
        for (var l = 0; l < thresholds.Length; l++)
        {
            if (thresholds[l] is { } theta)
            {
                theta.copy_(theta.maximum(thresholdFloors[l]!));
            }
        }
    }

    /// <summary>Copies the parameters into the network's synapses, v(0) and (when learned) thresholds.</summary>
    public void WriteBack()
    {
        using var noGrad = no_grad();
        for (var l = 0; l < network.Layers.Count; l++)
        {
            var layer = network.Layers[l];
            for (var i = 0; i < layer.Inputs.Count; i++)
            {
                if (norms[l][i] is { } norm)
                {
                    var (w, b) = norm.Fold(weights[l][i]!, biases[l][i]!);
                    layer.Inputs[i].Synapse!.Assign(w, b);
                    w.Dispose();
                    b.Dispose();
                }
                else
                {
                    layer.Inputs[i].Synapse?.Assign(weights[l][i]!, biases[l][i]);
                }
            }

            if (initialPotentials[l] is { } v0)
            {
                layer.AssignInitialPotential(v0);
            }

            if (thresholds[l] is { } theta)
            {
                layer.AssignThreshold(theta);
            }
        }
    }

    public void Dispose()
    {
        foreach (var p in Parameters)
        {
            p.Dispose();
        }

        foreach (var floor in thresholdFloors)
        {
            floor?.Dispose();
        }

        foreach (var norm in norms.SelectMany(n => n))
        {
            norm?.Dispose();
        }
    }
}
