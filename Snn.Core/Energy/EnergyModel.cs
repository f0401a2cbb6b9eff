namespace Snn.Core.Energy;

/// <summary>
/// The energy model of PAPER.md: E_ANN = e_MAC x MACs and E_SNN = e_SOP x SOPs + e_MAC x MACs_1 x T, where
/// MACs_1 are the multiply-accumulates of the first layer, which receives the analog image at each of the
/// T steps. Energies are in picojoules; MAC and SOP counts must cover the same set of samples (e.g. per
/// sample, or totals over the same test set).
/// </summary>
public sealed record EnergyModel
{
    /// <summary>Creates the model; the defaults are the paper's 45 nm figures.</summary>
    /// <param name="macPicojoules">e_MAC, energy of one multiply-accumulate in pJ, finite and &gt; 0 (default 4.6).</param>
    /// <param name="sopPicojoules">e_SOP, energy of one synaptic accumulate in pJ, finite and &gt; 0 (default 0.9).</param>
    /// <exception cref="ArgumentException">An energy &lt;= 0 or not finite.</exception>
    public EnergyModel(double macPicojoules = 4.6, double sopPicojoules = 0.9)
    {
        MacPicojoules = Guard.Positive(macPicojoules, nameof(macPicojoules));
        SopPicojoules = Guard.Positive(sopPicojoules, nameof(sopPicojoules));
    }

    /// <summary>The paper's model: 4.6 pJ per MAC, 0.9 pJ per SOP.</summary>
    public static EnergyModel Default { get; } = new();

    /// <summary>e_MAC in pJ, &gt; 0.</summary>
    public double MacPicojoules { get; }

    /// <summary>e_SOP in pJ, &gt; 0.</summary>
    public double SopPicojoules { get; }

    /// <summary>E_ANN = e_MAC x MACs, in pJ.</summary>
    /// <param name="macs">MAC count of the ANN forward, finite and &gt;= 0.</param>
    /// <exception cref="ArgumentException">A negative or non-finite count.</exception>
    public double AnnEnergy(double macs) => MacPicojoules * Guard.NonNegative(macs, nameof(macs));

    /// <summary>E_SNN = e_SOP x SOPs + e_MAC x MACs_1 x T, in pJ.</summary>
    /// <param name="sops">SOP count of the spiking layers over all T steps, finite and &gt;= 0.</param>
    /// <param name="firstLayerMacsPerStep">MACs_1, the first (analog-input) layer's MACs for one step, finite and &gt;= 0.</param>
    /// <param name="timeSteps">T &gt;= 1.</param>
    /// <exception cref="ArgumentException">A value out of range.</exception>
    public double SnnEnergy(double sops, double firstLayerMacsPerStep, int timeSteps)
    {
        Guard.NonNegative(sops, nameof(sops));
        Guard.NonNegative(firstLayerMacsPerStep, nameof(firstLayerMacsPerStep));
        Guard.AtLeast(timeSteps, 1, nameof(timeSteps), "time steps T");
        return SopPicojoules * sops + MacPicojoules * firstLayerMacsPerStep * timeSteps;
    }

    /// <summary>E_ANN / E_SNN (the paper's "15.7x"); +inf when E_SNN = 0 and E_ANN &gt; 0.</summary>
    /// <param name="annMacs">MAC count of the ANN forward, finite and &gt;= 0.</param>
    /// <param name="sops">SOP count of the SNN over all T steps, finite and &gt;= 0.</param>
    /// <param name="firstLayerMacsPerStep">MACs of the first layer for one step, finite and &gt;= 0.</param>
    /// <param name="timeSteps">T &gt;= 1.</param>
    /// <exception cref="ArgumentException">A value out of range, or both energies 0.</exception>
    public double Ratio(double annMacs, double sops, double firstLayerMacsPerStep, int timeSteps)
    {
        var ann = AnnEnergy(annMacs);
        var snn = SnnEnergy(sops, firstLayerMacsPerStep, timeSteps);
        if (ann == 0 && snn == 0)
        {
            throw new ArgumentException($"{nameof(annMacs)} = 0 and the SNN energy is 0: the ratio 0 / 0 is undefined", nameof(annMacs));
        }

        return ann / snn;
    }
}
