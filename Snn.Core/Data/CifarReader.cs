namespace Snn.Core.Data;

/// <summary>The <see cref="IDatasetReader"/> of one CIFAR binary layout (CIFAR-10, or CIFAR-100 with fine labels).</summary>
internal sealed class CifarReader(CifarFormat format) : IDatasetReader
{
    /// <inheritdoc/>
    public bool Holds(string folder) => File.Exists(Path.Combine(folder, format.TestFiles[0]));

    /// <inheritdoc/>
    public DatasetLayout Inspect(DatasetDescriptor dataset, string folder)
    {
        var dir = format.Resolve(folder);
        var train = format.Sizes(dir, train: true).Sum(f => (long)f.Records);
        var test = format.Sizes(dir, train: false).Sum(f => (long)f.Records);
        return new DatasetLayout(folder, (int)Math.Min(train, int.MaxValue), (int)Math.Min(test, int.MaxValue), 3, 32, 32, format.ClassNames(dir));
    }

    /// <inheritdoc/>
    public ImageDataset Read(DatasetDescriptor dataset, string folder, bool train) => Cifar.Read(format, folder, train);

    /// <inheritdoc/>
    public DatasetIdentity Identify(DatasetDescriptor dataset, string folder)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var dir = format.Resolve(folder);
        var names = Path.Combine(dir, format.NamesFile);
        var files = format.TrainFiles.Concat(format.TestFiles).Select(f => Path.Combine(dir, f));
        return DatasetIdentity.OfFiles(dataset.Key, folder, File.Exists(names) ? files.Append(names) : files);
    }
}
