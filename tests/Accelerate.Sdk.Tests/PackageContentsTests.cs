using System.IO.Compression;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;

namespace Accelerate.Sdk.Tests;

/// <summary>What each package of the feed <see cref="PackageFeed"/> packed carries besides its code: README, license, symbols.</summary>
[TestClass]
public sealed class PackageContentsTests
{
    [TestMethod]
    [DataRow("Accelerate.Sdk")]
    [DataRow("Accelerate.Runtime")]
    [DataRow("Accelerate.Templates")]
    [DataRow("Accelerate.Cli")]
    public void Every_package_carries_its_readme_and_declares_the_license_of_the_repository(string id)
    {
        using var package = Open(id);
        var metadata = Nuspec(package);

        Assert.AreEqual("README.md", Element(metadata, "readme")?.Value, "nuspec readme");
        Assert.IsNotNull(package.GetEntry("README.md"), "README.md in the package");
        var license = Element(metadata, "license");
        Assert.AreEqual("expression", license?.Attribute("type")?.Value);
        Assert.AreEqual("MIT", license?.Value);
        StringAssert.StartsWith(File.ReadAllText(Path.Combine(PackageFeed.RepoRoot, "LICENSE")), "MIT License", "the LICENSE file matches the expression");
    }

    [TestMethod]
    [DataRow("Accelerate.Runtime", "lib/net10.0/Accelerate.Runtime.dll")]
    [DataRow("Accelerate.Runtime", "analyzers/dotnet/cs/Accelerate.Generators.dll")]
    [DataRow("Accelerate.Runtime", "tasks/net10.0/Accelerate.Build.Tasks.dll")]
    [DataRow("Accelerate.Sdk", "tasks/net10.0/Accelerate.Build.Tasks.dll")]
    [DataRow("Accelerate.Sdk", "tools/launcher/accelerate.dll")]
    [DataRow("Accelerate.Cli", "tools/net10.0/any/accelerate.dll")]
    public void Every_shipped_assembly_embeds_its_symbols_and_is_built_deterministically(string id, string path)
    {
        using var package = Open(id);
        var entry = package.GetEntry(path) ?? throw new AssertFailedException($"{id} has no {path}: {string.Join(", ", package.Entries.Select(e => e.FullName))}");
        using var image = new MemoryStream();
        using (var stream = entry.Open()) stream.CopyTo(image);
        image.Position = 0;
        using var pe = new PEReader(image);

        var debug = pe.ReadDebugDirectory();
        Assert.IsTrue(debug.Any(d => d.Type == DebugDirectoryEntryType.EmbeddedPortablePdb), $"{path} carries no embedded PDB");
        Assert.IsTrue(debug.Any(d => d.Type == DebugDirectoryEntryType.Reproducible), $"{path} is not a deterministic build");
        using var pdb = pe.ReadEmbeddedPortablePdbDebugDirectoryData(debug.First(d => d.Type == DebugDirectoryEntryType.EmbeddedPortablePdb));
        Assert.IsGreaterThan(0, pdb.GetMetadataReader().Documents.Count, $"{path}'s PDB names no source document");
    }

    private static ZipArchive Open(string id)
    {
        var file = Path.Combine(PackageFeed.FeedDirectory, $"{id}.{PackageFeed.Version}.nupkg");
        Assert.IsTrue(File.Exists(file), $"{file} was not packed");
        return ZipFile.OpenRead(file);
    }

    private static XElement Nuspec(ZipArchive package)
    {
        var entry = package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var stream = entry.Open();
        return XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    }

    private static XElement? Element(XElement metadata, string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name);
}
