/**
 * Jest for the panel's model and pure helpers: ts-jest in jsdom. The model takes its
 * kernel and server calls as arguments, so no JupyterLab and no server is needed.
 */
module.exports = {
  testEnvironment: 'jsdom',
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  },
  testRegex: 'js/__tests__/.*\\.spec\\.tsx?$',
  testPathIgnorePatterns: ['/lib/', '/node_modules/', '/.venv/'],
  modulePathIgnorePatterns: ['<rootDir>/.venv/', '<rootDir>/jupyter_handover/'],
  moduleFileExtensions: ['ts', 'tsx', 'js', 'json']
};
